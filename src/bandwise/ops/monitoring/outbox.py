"""Keep alert messages until every destination took them: in order, retried with backoff.

Each destination (the webhook, each admin's chat) has its own queue position: a message is
tried on a destination only after every earlier message reached it, so a destination never
sees "resolved" before "firing". A failure blocks that destination until its backoff ends
(``RETRY_BASE_SECONDS`` doubling up to ``RETRY_MAX_SECONDS``); the other destinations go on.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from bandwise.ops.monitoring.notify import AlertMessage, Destination, Notifier, iso_utc

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 10.0
RETRY_MAX_SECONDS = 600.0
MAX_QUEUED = 500


@dataclass
class Delivery:
    """One message and where it still has to go."""

    message: AlertMessage
    pending: set[Destination] = field(default_factory=set)
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: float | None = None
    delivered_at: float | None = None
    note: str | None = None  # why it was never queued (follower, no destination)

    @property
    def state(self) -> str:
        """Return ``delivered``, ``failed`` (retrying), ``pending`` or ``not sent``."""
        if self.note is not None:
            return "not sent"
        if not self.pending:
            return "delivered"
        return "failed" if self.last_error is not None else "pending"

    def describe(self) -> str:
        """Return the delivery state in one line, for the operator's page."""
        state = self.state
        if state == "not sent":
            return f"not sent ({self.note})"
        if state == "delivered":
            return f"delivered {iso_utc(self.delivered_at)}"
        if state == "pending":
            return "pending"
        where = ", ".join(sorted(d.label for d in self.pending))
        return (
            f"failed to {where} after {self.attempts} attempts ({self.last_error}); "
            f"next try {iso_utc(self.next_attempt_at)}"
        )


@dataclass
class _Lane:
    """One destination's retry state."""

    failures: int = 0
    blocked_until: float = 0.0


class Outbox:
    """Queue messages for the notifier's destinations and flush them in order."""

    def __init__(
        self,
        notifier: Notifier,
        retry_base: float = RETRY_BASE_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
    ) -> None:
        self._notifier = notifier
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._queue: deque[Delivery] = deque()
        self._lanes: dict[Destination, _Lane] = {}

    @property
    def queued(self) -> list[Delivery]:
        """Return the deliveries not yet complete, oldest first."""
        return list(self._queue)

    def add(self, message: AlertMessage) -> Delivery:
        """Queue ``message`` for every configured destination."""
        delivery = Delivery(message, set(self._notifier.destinations()))
        if not delivery.pending:
            delivery.note = "no destination configured"
            return delivery
        if len(self._queue) >= MAX_QUEUED:
            dropped = self._queue.popleft()
            log.error(
                "alert outbox full: dropped %s %s never delivered",
                dropped.message.alert,
                dropped.message.status,
            )
        self._queue.append(delivery)
        return delivery

    async def flush(self, now: float) -> list[Delivery]:
        """Try every due destination in queue order; return the deliveries completed now."""
        for destination in self._notifier.destinations():
            await self._flush_lane(destination, now)
        completed = [delivery for delivery in self._queue if not delivery.pending]
        for delivery in completed:
            delivery.delivered_at = now
            self._queue.remove(delivery)
        return completed

    async def _flush_lane(self, destination: Destination, now: float) -> None:
        lane = self._lanes.setdefault(destination, _Lane())
        if now < lane.blocked_until:
            return
        for delivery in self._queue:
            if destination not in delivery.pending:
                continue
            delivery.attempts += 1
            failure = await self._notifier.deliver(delivery.message, destination)
            if failure is None:
                delivery.pending.discard(destination)
                lane.failures = 0
                if not delivery.pending:
                    delivery.last_error = None
                continue
            lane.failures += 1
            lane.blocked_until = now + min(
                self._retry_max, self._retry_base * 2 ** (lane.failures - 1)
            )
            delivery.last_error = f"{destination.label}: {failure}"
            delivery.next_attempt_at = lane.blocked_until
            log.warning(
                "alert %s %s not delivered to %s (%s); retrying at %s",
                delivery.message.alert,
                delivery.message.status,
                destination.label,
                failure,
                iso_utc(lane.blocked_until),
            )
            return  # later messages wait: a destination receives them in order

    async def close(self) -> None:
        """Close the notifier's HTTP client."""
        await self._notifier.close()
