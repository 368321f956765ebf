"""Application events for observers: one frozen dataclass per event, so mypy checks each emit.

The domain announces what happened (an essay submitted, scored or refused, a bot update, a
payment, a database retry or error); monitoring subscribes to count it. Dependencies keep
pointing down: no service imports the monitoring layer. Observers must be cheap and never
raise into the caller (a failing observer is logged and skipped).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EssaySubmitted:
    """An essay was accepted for scoring."""

    task_type: str


@dataclass(frozen=True)
class EssayScored:
    """An assessor finished with an essay (``succeeded`` False: it failed to score it)."""

    assessor: str
    succeeded: bool


@dataclass(frozen=True)
class ScoresDisagreed:
    """The LLM's overall band and the offline model's were more than 1.5 bands apart."""

    assessor: str


@dataclass(frozen=True)
class LimitRefused:
    """An essay was refused because its candidate reached the daily limit."""


@dataclass(frozen=True)
class BotUpdateHandled:
    """The bot finished one Telegram update of ``kind`` (message, callback_query, …)."""

    kind: str
    seconds: float
    succeeded: bool = True
    refused: bool = False  # a refusal the candidate was told about (the daily limit, …)


@dataclass(frozen=True)
class PaymentHandled:
    """A payment was recorded, recognised as a redelivery, or refunded."""

    outcome: Literal["succeeded", "duplicate", "refunded"]


@dataclass(frozen=True)
class DatabaseRetried:
    """A transaction met a transient database failure of ``kind`` and will run again."""

    kind: str


@dataclass(frozen=True)
class DatabaseFailed:
    """A database error of ``kind`` reached the caller (after any retries)."""

    kind: str


Event = (
    EssaySubmitted
    | EssayScored
    | ScoresDisagreed
    | LimitRefused
    | BotUpdateHandled
    | PaymentHandled
    | DatabaseRetried
    | DatabaseFailed
)
E = TypeVar("E", bound=Event)

_observers: dict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[E], observer: Callable[[E], None]) -> None:
    """Call ``observer(event)`` each time an event of ``event_type`` is emitted."""
    _observers[event_type].append(observer)


def emit(event: Event) -> None:
    """Tell every observer of the event's type that it happened."""
    for observer in list(_observers.get(type(event), ())):
        try:
            observer(event)
        except Exception:
            log.exception("observer of %s failed", type(event).__name__)
