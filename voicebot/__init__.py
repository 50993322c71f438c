"""voicebot: a voice call-center agent on the telephone network."""

__version__ = "0.1.0"
