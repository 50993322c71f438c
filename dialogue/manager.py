"""`DialogueManager`: one per process, shared by all calls. It opens a `Conversation` per call (with its CRM
interaction) and words the policy's acts through the configured `ReplyGenerator`, falling back to the
templates act by act when a generator's reply is unusable.
"""

from __future__ import annotations

import logging
from typing import Any

from dialogue.acts import ACTS, DialogueAct, ReplyContext, ReplyGenerator, fill, placeholders
from dialogue.conversation import BotTurn, Conversation
from dialogue.nlu import Nlu
from dialogue.templates import TemplateGenerator

__all__ = ["BotTurn", "Conversation", "DialogueManager"]

log = logging.getLogger(__name__)

DIRECTIONS = ("inbound", "outbound")
OUTBOUND_KINDS = {"order_followup": "order_number", "ticket_followup": "ticket_number", "callback": None}
# A generator reply below this confidence is replaced by the template for that act.
MIN_GENERATOR_CONFIDENCE = 0.5


class DialogueManager:
    def __init__(self, store: Any, *, generator: ReplyGenerator | None = None,
                 transfer_target: str | None = None, company: str = "Acme", nlu: Nlu | None = None) -> None:
        self.store = store
        self.templates = TemplateGenerator()
        self.generator: ReplyGenerator = generator or self.templates
        self.transfer_target = transfer_target
        self.company = company
        self.nlu = nlu or Nlu(p.name for p in store.products())

    def start(self, caller_id: str | None, *, direction: str = "inbound", channel: str = "sip",
              reason: dict | None = None) -> Conversation:
        """Open a conversation and its CRM interaction. The caller ID may be a phone number or a SIP URI."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        reason = _check_reason(direction, reason)
        self.nlu.set_products(p.name for p in self.store.products())  # the live catalog, once per call
        customer = self.store.customer_by_phone(caller_id) if caller_id else None
        customer_id = customer.id if customer else None
        interaction_id = self.store.start_interaction(caller=caller_id, customer_id=customer_id,
                                                      direction=direction, channel=channel)
        return Conversation(self, interaction_id, customer, direction, reason)

    def render(self, acts: list[DialogueAct], context: ReplyContext) -> tuple[str, str]:
        """Reply text for the acts (joined) and which generator(s) worded it."""
        texts, used = [], []
        for act in acts:
            text, name = self._render_act(act, context)
            texts.append(text)
            used.append(name)
        return " ".join(texts), "+".join(dict.fromkeys(used))

    def _render_act(self, act: DialogueAct, context: ReplyContext) -> tuple[str, str]:
        if self.generator is not self.templates:
            try:
                reply = self.generator.generate(act, context)
                required = set(ACTS.get(act.name, ((), ()))[0])
                confident = reply.confidence is None or reply.confidence >= MIN_GENERATOR_CONFIDENCE
                if confident and required <= placeholders(reply.text):
                    return fill(reply.text, act.values), reply.generator
                log.info("generator %s reply for %s unusable, using the template", reply.generator, act.name)
            except Exception:  # a learned generator must never cost the caller an answer
                log.warning("generator failed on act %s, using the template", act.name, exc_info=True)
        reply = self.templates.generate(act, context)
        return fill(reply.text, act.values), reply.generator


def _check_reason(direction: str, reason: dict | None) -> dict | None:
    if direction == "inbound":
        if reason:
            log.warning("ignoring the outbound reason %r given for an inbound call", reason)
        return None
    reason = reason or {"kind": "callback"}
    if not isinstance(reason, dict) or reason.get("kind") not in OUTBOUND_KINDS:
        raise ValueError(f"outbound reason needs 'kind' in {', '.join(OUTBOUND_KINDS)}, got {reason!r}")
    key = OUTBOUND_KINDS[reason["kind"]]
    if key and not str(reason.get(key, "")).strip():
        raise ValueError(f"outbound reason {reason['kind']!r} needs {key!r}")
    return reason


