"""Errors a voice raises at load or synthesis time; every message is one line naming what to fix."""

from __future__ import annotations


class VoiceMissing(RuntimeError):
    """A voice's package or model file is not installed; the message names the pip package or the file."""


class VoiceCorrupt(VoiceMissing):
    """A model file is present but unusable (wrong md5, unreadable config); reinstalling fixes it."""


class SynthesisError(RuntimeError):
    """The engine failed on one clause; the message names the voice and the clause."""
