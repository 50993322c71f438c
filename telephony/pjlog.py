"""pjsip's own log, routed into Python logging ("pjsip"), and kept off stdout at start-up."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
from collections.abc import Iterator

import pjsua2 as pj

_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.WARNING, 3: logging.INFO}


class PjLogWriter(pj.LogWriter):
    """pjsip's log lines into Python logging. Called from any pjsip thread: only logs."""

    def write(self, entry: pj.LogEntry) -> None:
        try:
            level = _LEVELS.get(entry.level, logging.DEBUG)
            logging.getLogger("pjsip").log(level, entry.msg.rstrip())
        except Exception:  # noqa: BLE001 - never let a log line raise into pjsip
            pass


@contextlib.contextmanager
def quiet_stdout(quiet: bool) -> Iterator[None]:
    """Send fd 1 to /dev/null meanwhile: pjlib prints its start-up lines before any log config applies."""
    if not quiet:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffered the lines: drop them while fd 1 is /dev/null
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
