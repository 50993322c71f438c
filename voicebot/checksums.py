"""md5 of model files, remembered between starts.

Every engine checks its packaged model by md5 at load. Hashing 8–145 MB on every start costs up to half a
second, so each digest is kept in a small stamp file per model under VOICEBOT_CACHE (default
~/.cache/voicebot), keyed by the file's path, size, mtime and inode: reinstalling or rewriting the file
changes the key and forces a fresh hash. A read-only cache only costs the rehash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

_CHUNK = 1 << 20


def cache_dir() -> Path:
    env = os.environ.get("VOICEBOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "voicebot"


def _stamp(path: Path) -> tuple[Path, dict[str, object]]:
    st = path.stat()
    key = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    name = hashlib.sha1(str(path).encode()).hexdigest()[:20]
    return cache_dir() / "model-md5" / f"{name}.json", key


def remember_md5(path: str | Path, digest: str) -> None:
    p = Path(path).resolve()
    stamp, key = _stamp(p)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: several worker processes may start at once.
        fd, tmp = tempfile.mkstemp(dir=stamp.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**key, "md5": digest}, f)
        os.replace(tmp, stamp)
    except OSError:
        pass


def file_md5(path: str | Path) -> str:
    """md5 of `path`; read from its stamp when the file is unchanged since it was last hashed."""
    p = Path(path).resolve()
    stamp, key = _stamp(p)
    try:
        known = json.loads(stamp.read_text(encoding="utf-8"))
        if all(known.get(k) == v for k, v in key.items()) and isinstance(known.get("md5"), str):
            return known["md5"]
    except (OSError, ValueError, AttributeError):
        pass  # no stamp yet, or a damaged one: hash again
    h = hashlib.md5()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    digest = h.hexdigest()
    remember_md5(p, digest)
    return digest
