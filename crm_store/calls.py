"""The call log: one interaction per call and one row per dialogue turn (part of CrmStore)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm_store import models as m
from crm_store.tickets import check_limit
from crm_store.views import InteractionView, NotFound

TURN_FIELDS = (
    "transcript", "intent", "slots", "reply", "generator", "sentiment", "timings_ms", "interrupted",
)


def _sentiment(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"sentiment must be a finite number or None, got {value!r}")
    return float(value)


def _mapping(name: str, value: dict | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:  # stored as JSON: fail here, not deep inside the flush
        raise ValueError(f"{name} must hold only JSON values: {exc}") from None
    return dict(value)


def _text(name: str, value: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if limit is not None and (not value.strip() or len(value) > limit):
        raise ValueError(f"{name} must be 1-{limit} characters, got {value!r}")
    return value


def _turn_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated column values for the given turn fields."""
    checks: dict[str, Callable[[Any], Any]] = {
        "transcript": lambda v: _text("transcript", v),
        "intent": lambda v: _text("intent", v, 60),
        "slots": lambda v: _mapping("slots", v),
        "reply": lambda v: _text("reply", v),
        "generator": lambda v: _text("generator", v, 40),
        "sentiment": _sentiment,
        "timings_ms": lambda v: _mapping("timings_ms", v),
        "interrupted": bool,
    }
    return {name: checks[name](value) for name, value in fields.items()}


class CallLogMixin:
    """Needs ``_read()`` and ``_write()`` session factories from CrmStore."""

    _read: Callable[[], AbstractContextManager[Session]]
    _write: Callable[[], AbstractContextManager[Session]]

    def start_interaction(
        self, *, caller: str | None, customer_id: int | None, direction: str = "inbound", channel: str = "sip"
    ) -> int:
        """Open the log of a call now; returns its id for add_turn / close_interaction."""
        if direction not in m.DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}; allowed: {', '.join(m.DIRECTIONS)}")
        if caller is not None:
            _text("caller", caller, 255)
        _text("channel", channel, 20)
        with self._write() as s:
            if customer_id is not None and s.get(m.Customer, customer_id) is None:
                raise NotFound(f"no customer with id {customer_id}")
            row = m.Interaction(
                caller=caller, customer_id=customer_id, direction=direction, channel=channel,
                started_at=m.utc_now(),
            )
            s.add(row)
            s.flush()
            return row.id

    def add_turn(
        self,
        interaction_id: int,
        *,
        index: int,
        transcript: str,
        intent: str,
        slots: dict,
        reply: str,
        generator: str = "template",
        sentiment: float | None = None,
        timings_ms: dict | None = None,
        interrupted: bool = False,
    ) -> None:
        """Record one dialogue turn. Each index may be recorded once per interaction."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"turn index must be a non-negative integer, got {index!r}")
        values = _turn_values({
            "transcript": transcript, "intent": intent, "slots": slots, "reply": reply,
            "generator": generator, "sentiment": sentiment, "timings_ms": timings_ms,
            "interrupted": interrupted,
        })
        try:
            with self._write() as s:
                if s.get(m.Interaction, interaction_id) is None:
                    raise NotFound(f"no interaction with id {interaction_id}")
                s.add(m.InteractionTurn(interaction_id=interaction_id, turn_index=index, **values))
        except IntegrityError:
            raise ValueError(f"turn {index} of interaction {interaction_id} is already recorded") from None

    def update_turn(self, interaction_id: int, index: int, **fields: Any) -> None:
        """Replace fields of a recorded turn, e.g. ``timings_ms=`` after playout, ``interrupted=True``.

        Each given field is replaced whole (a new ``timings_ms`` dict replaces the old one, no merge).
        """
        unknown = sorted(set(fields) - set(TURN_FIELDS))
        if unknown or not fields:
            allowed = ", ".join(TURN_FIELDS)
            raise ValueError(f"cannot update turn field(s) {unknown or 'none given'}; allowed: {allowed}")
        values = _turn_values(fields)
        with self._write() as s:
            row = s.scalar(select(m.InteractionTurn).where(
                m.InteractionTurn.interaction_id == interaction_id, m.InteractionTurn.turn_index == index
            ))
            if row is None:
                raise NotFound(f"no turn {index} in interaction {interaction_id}")
            for name, value in values.items():
                setattr(row, name, value)

    def close_interaction(
        self, interaction_id: int, *, outcome: str, recording_path: str | None = None,
        sentiment: float | None = None,
    ) -> None:
        """End the call's log now. Closing an interaction twice is an error."""
        _text("outcome", outcome, 40)
        if recording_path is not None:
            _text("recording_path", str(recording_path), 500)
        sentiment = _sentiment(sentiment)
        with self._write() as s:
            row = s.get(m.Interaction, interaction_id)
            if row is None:
                raise NotFound(f"no interaction with id {interaction_id}")
            if row.ended_at is not None:
                raise ValueError(f"interaction {interaction_id} is already closed ({row.outcome})")
            row.ended_at = max(m.utc_now(), row.started_at)
            row.outcome = outcome
            row.recording_path = str(recording_path) if recording_path is not None else None
            row.sentiment = sentiment

    def interaction(self, interaction_id: int) -> InteractionView | None:
        """One call with its turns in order; None if unknown."""
        with self._read() as s:
            row = s.get(m.Interaction, interaction_id, options=[selectinload(m.Interaction.turns)])
            return InteractionView.of(row) if row is not None else None

    def interactions(self, limit: int = 50) -> list[InteractionView]:
        """The latest calls with their turns, newest first."""
        query = (
            select(m.Interaction)
            .options(selectinload(m.Interaction.turns))
            .order_by(m.Interaction.started_at.desc(), m.Interaction.id.desc())
            .limit(check_limit(limit))
        )
        with self._read() as s:
            return [InteractionView.of(row) for row in s.scalars(query)]
