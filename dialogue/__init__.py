"""The dialogue manager: NLU (intent + slots), a CRM-backed policy, and delexicalised replies.

manager = DialogueManager(store, transfer_target="sip:agents@pbx")
conv = manager.start("+15551230001")
conv.greet().text; conv.respond("where is my order 4567").text; conv.close()
"""

from dialogue.acts import DialogueAct, GeneratedReply, MissingValue, ReplyContext, ReplyGenerator, fill
from dialogue.manager import BotTurn, Conversation, DialogueManager
from dialogue.nlu import INTENTS, Nlu, NluResult
from dialogue.templates import TemplateGenerator

__all__ = [
    "INTENTS",
    "BotTurn",
    "Conversation",
    "DialogueAct",
    "DialogueManager",
    "GeneratedReply",
    "MissingValue",
    "Nlu",
    "NluResult",
    "ReplyContext",
    "ReplyGenerator",
    "TemplateGenerator",
    "fill",
]
