"""pjsip's own log, routed into Python logging ("pjsip"), and kept off stdout at start-up; our errors from
inside pjsip callbacks, logged without holding on to pjsua2 objects."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import traceback
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


def log_exception(logger: logging.Logger, msg: str, *args: object) -> None:
    """`logger.exception(msg, *args)` with the traceback as text only. A record that keeps `exc_info` keeps
    the frames, and through them the pjsua2 objects they held (a BotCall, an Account); a handler that
    stores records (pytest's log capture, a MemoryHandler) would then free them later on another thread,
    or after the library is gone: pjlib aborts the process."""
    logger.error(msg + "\n%s", *args, traceback.format_exc().rstrip())


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
