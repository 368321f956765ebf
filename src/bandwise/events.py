"""Application events (essay submitted, scored, refused, update handled, payment) for observers.

The domain announces what happened; monitoring subscribes to count it. Dependencies keep
pointing down: no service imports the monitoring layer. Observers must be cheap and never
raise into the caller (a failing observer is logged and skipped).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SUBMISSION = "submission"  # task_type
ASSESSMENT = "assessment"  # assessor, succeeded
RATE_LIMIT_REFUSED = "rate_limit_refused"
BOT_UPDATE = "bot_update"  # kind, seconds, succeeded
PAYMENT = "payment"  # outcome
DISAGREEMENT = "assessment_disagreement"  # assessor: LLM and offline model > 1.5 bands apart

Observer = Callable[..., None]
_observers: dict[str, list[Observer]] = defaultdict(list)


def subscribe(event: str, observer: Observer) -> None:
    """Call ``observer(**fields)`` each time ``event`` is emitted."""
    _observers[event].append(observer)


def emit(event: str, **fields: Any) -> None:
    """Tell every observer of ``event`` that it happened."""
    for observer in list(_observers.get(event, ())):
        try:
            observer(**fields)
        except Exception:
            log.exception("observer of %s failed", event)
