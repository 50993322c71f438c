"""`DialogueManager`: one per process, shared by all calls. It opens a `Conversation` per call (with its CRM
interaction) and words the policy's acts through the configured `ReplyGenerator`. Every reply of a generator
other than the templates passes the one `SafetyGate`; a rejected reply (or a generator error) is replaced by
the template for that act, and the turn is marked `fallback:<reason>`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialogue.acts import Declined, DialogueAct, ReplyContext, ReplyGenerator, fill
from dialogue.conversation import BotTurn, Conversation
from dialogue.crm import Crm
from dialogue.nlu import Nlu
from dialogue.sentiment import SentimentClassifier, default_sentiment
from dialogue.seq2seq.gate import SafetyGate
from dialogue.templates import TemplateGenerator

__all__ = ["BotTurn", "Conversation", "DialogueManager", "Rendered"]

log = logging.getLogger(__name__)

DIRECTIONS = ("inbound", "outbound")
OUTBOUND_KINDS = {"order_followup": "order_number", "ticket_followup": "ticket_number", "callback": None}
MAX_CALLER_ID = 255  # what the call log keeps; a longer caller ID is cut, never a failed call


class DialogueManager:
    def __init__(self, store: Crm, *, generator: ReplyGenerator | None = None,
                 transfer_target: str | None = None, company: str = "Acme", nlu: Nlu | None = None,
                 sentiment: SentimentClassifier | None = None, gate: SafetyGate | None = None) -> None:
        self.store = store
        self.templates = TemplateGenerator()
        self.generator: ReplyGenerator = generator or self.templates
        self.gate = gate or SafetyGate()
        self.transfer_target = transfer_target
        self.company = company
        self.nlu = nlu or Nlu(p.name for p in store.products())
        self.sentiment = sentiment or default_sentiment()

    def start(self, caller_id: str | None, *, direction: str = "inbound", channel: str = "sip",
              reason: dict | None = None) -> Conversation:
        """Open a conversation and its CRM interaction. The caller ID may be a phone number or a SIP URI."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        reason = _check_reason(direction, reason)
        self.nlu.set_products(p.name for p in self.store.products())  # the live catalog, once per call
        caller = None
        if isinstance(caller_id, str) and caller_id.strip():
            caller = caller_id.strip()[:MAX_CALLER_ID]
        customer = self.store.customer_by_phone(caller) if caller else None
        customer_id = customer.id if customer else None
        interaction_id = self.store.start_interaction(caller=caller, customer_id=customer_id,
                                                      direction=direction, channel=channel)
        return Conversation(self, interaction_id, customer, direction, reason)

    def render(self, acts: list[DialogueAct], context: ReplyContext) -> Rendered:
        """The reply for the acts (each worded separately, then joined), which generator worded it and the
        model's confidence. `generator` is "template", "seq2seq", or "fallback:<reason>" when any act's
        generated wording was rejected and its template said instead."""
        parts = [self._render_act(act, context) for act in acts]
        labels = [p.generator for p in parts]
        fallbacks = [label for label in labels if label.startswith("fallback:")]
        confidences = [p.confidence for p in parts if p.confidence is not None]
        return Rendered(
            text=" ".join(p.text for p in parts),
            delexicalised=" ".join(p.delexicalised for p in parts),
            generator=fallbacks[0] if fallbacks else "+".join(dict.fromkeys(labels)),
            confidence=min(confidences) if confidences else None,
        )

    def _render_act(self, act: DialogueAct, context: ReplyContext) -> Rendered:
        if isinstance(self.generator, TemplateGenerator):  # hand-written: trusted, labelled with its name
            return self._template(act, context, self.generator.name, None, self.generator)
        try:
            reply = self.generator.generate(act, context)
        except Declined as exc:
            return self._template(act, context, f"fallback:{exc.reason}", None)
        except Exception:  # a learned generator must never cost the caller an answer
            log.warning("generator failed on act %s, using the template", act.name, exc_info=True)
            return self._template(act, context, "fallback:error", None)
        reason = self.gate.check(act, reply.text, reply.confidence, reply.finished,
                                 context.slots.get("complaint_category"))
        if reason is not None:
            log.info("generator %s reply for %s rejected (%s), using the template: %r", reply.generator,
                     act.name, reason, reply.text)
            return self._template(act, context, f"fallback:{reason}", reply.confidence)
        return Rendered(fill(reply.text, act.values), reply.text, reply.generator, reply.confidence)

    def _template(self, act: DialogueAct, context: ReplyContext, label: str, confidence: float | None,
                  templates: TemplateGenerator | None = None) -> Rendered:
        reply = (templates or self.templates).generate(act, context)
        return Rendered(fill(reply.text, act.values), reply.text, label, confidence)


@dataclass(frozen=True)
class Rendered:
    text: str  # filled: what the caller hears
    delexicalised: str  # with [placeholders]: what a generator conditions on next turn
    generator: str  # "template" | "seq2seq" | "fallback:<reason>"
    confidence: float | None  # the model's (lowest over the acts) when it was asked


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


