"""The small processors a call's pipeline is made of, in bus order."""

from voicebot.processors.dialogue_stage import DialogueStage
from voicebot.processors.speech_out import SpeechOut
from voicebot.processors.transcriber import Transcriber
from voicebot.processors.turns import TurnCounter, TurnDetector, TurnSettings

__all__ = ["DialogueStage", "SpeechOut", "Transcriber", "TurnCounter", "TurnDetector", "TurnSettings"]
