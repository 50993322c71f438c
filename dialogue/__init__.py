"""The dialogue manager: NLU (intent + slots), a CRM-backed policy, and delexicalised replies.

manager = DialogueManager(store, transfer_target="sip:agents@pbx")
conv = manager.start("+15551230001")
conv.greet().text; conv.respond("where is my order 4567").text; conv.close()
"""

from dialogue.acts import Declined, DialogueAct, GeneratedReply, MissingValue, ReplyContext, ReplyGenerator, fill
from dialogue.conversation import BotTurn, Conversation
from dialogue.manager import DialogueManager
from dialogue.nlu import INTENTS, Nlu, NluResult
from dialogue.templates import TemplateGenerator

__all__ = [
    "INTENTS",
    "BotTurn",
    "Conversation",
    "Declined",
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
