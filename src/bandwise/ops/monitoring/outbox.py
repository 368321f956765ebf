"""Keep alert messages until every destination took them: in order, retried with backoff.

Each destination (the webhook, each admin's chat) has its own queue position: a message is
tried on a destination only after every earlier message reached it, so a destination never
sees "resolved" before "firing". A failure blocks that destination until its backoff ends
(``RETRY_BASE_SECONDS`` doubling up to ``RETRY_MAX_SECONDS``); the other destinations go on.

With a store (the service's), every message and each destination it reached is written to
``alert_outbox`` as it happens, whenever the database answers, and ``resume`` takes the queue
back from there before each flush: after a restart, or after another instance sent, the
database says what is left.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bandwise.errors import DatabaseError
from bandwise.ops.monitoring.notify import AlertMessage, Destination, Notifier, iso_utc

if TYPE_CHECKING:
    from bandwise.ops.monitoring.outbox_store import OutboxStore

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
    note: str | None = None  # why it was never queued (follower, no destination) or dropped
    dropped_at: float | None = None
    queued_at: float = field(default_factory=time.time)
    row_id: int | None = None  # its alert_outbox row, once saved
    saved: bool = False  # the database holds its current state

    @property
    def finished_at(self) -> float | None:
        """Return when nothing was left to try (delivered or dropped), else None."""
        return self.delivered_at if self.delivered_at is not None else self.dropped_at

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
        failed = f"failed to {where} after {self.attempts} attempts ({self.last_error})"
        if self.next_attempt_at is None:  # resumed from the database, not tried here yet
            return failed
        return f"{failed}; next try {iso_utc(self.next_attempt_at)}"


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
        store: OutboxStore | None = None,
    ) -> None:
        self._notifier = notifier
        self._retry_base = retry_base
        self._retry_max = retry_max
        self.store = store
        self._queue: deque[Delivery] = deque()
        self._lanes: dict[Destination, _Lane] = {}
        # Finished (delivered or dropped) while the database did not answer: saved later.
        self._unsaved_finished: list[Delivery] = []

    @property
    def queued(self) -> list[Delivery]:
        """Return the deliveries not yet complete, oldest first."""
        return list(self._queue)

    def add(self, message: AlertMessage, now: float | None = None) -> Delivery:
        """Queue ``message`` for every configured destination (``now``: the alerter's clock)."""
        delivery = Delivery(message, set(self._notifier.destinations()))
        if now is not None:
            delivery.queued_at = now
        if not delivery.pending:
            delivery.note = "no destination configured"
            return delivery
        if len(self._queue) >= MAX_QUEUED:
            dropped = self._queue.popleft()
            dropped.note, dropped.saved = "dropped: outbox full", False
            dropped.dropped_at = now if now is not None else time.time()
            self._unsaved_finished.append(dropped)
            log.error(
                "alert outbox full: dropped %s %s never delivered",
                dropped.message.alert,
                dropped.message.status,
            )
        self._queue.append(delivery)
        return delivery

    async def resume(self) -> list[Delivery] | None:
        """Take the queue from the database: what is undelivered there, in order.

        Called before each flush: after a restart it brings back what the last process left,
        and after another instance sent it drops what that one delivered. Returns the
        deliveries new to this process, or None when the database did not answer (the queue
        in memory goes on meanwhile).
        """
        if self.store is None:
            return []
        try:
            stored = await self.store.undelivered()
        except DatabaseError:
            return None
        configured = set(self._notifier.destinations())
        known = {d.row_id: d for d in self._queue if d.row_id is not None}
        queue: list[Delivery] = []
        fresh: list[Delivery] = []
        for delivery in stored:
            mine = known.pop(delivery.row_id, None) if delivery.row_id is not None else None
            if mine is not None:  # a destination either of us reached is reached
                mine.pending &= delivery.pending
                queue.append(mine)
                continue
            delivery.pending &= configured  # a destination removed since: nothing to do
            queue.append(delivery)
            fresh.append(delivery)
        for gone in known.values():  # done in the database: another instance delivered it
            gone.pending.clear()
            gone.delivered_at = gone.delivered_at or time.time()
        queue += [delivery for delivery in self._queue if delivery.row_id is None]
        self._queue = deque(queue)
        if fresh:
            log.info("alert outbox: resuming %d undelivered message(s)", len(fresh))
        return fresh

    async def flush(self, now: float) -> list[Delivery]:
        """Try every due destination in queue order; return the deliveries completed now."""
        await self._save()  # new messages first: a crash mid-delivery must not lose them
        for destination in self._notifier.destinations():
            await self._flush_lane(destination, now)
        completed = [delivery for delivery in self._queue if not delivery.pending]
        for delivery in completed:
            delivery.delivered_at, delivery.saved = now, False
            self._queue.remove(delivery)
        self._unsaved_finished += completed
        await self._save()
        return completed

    async def _save(self) -> None:
        """Write what changed to the store, if any and if the database answers."""
        if self.store is None:
            return
        changed = [d for d in (*self._unsaved_finished, *self._queue) if not d.saved]
        try:
            await self.store.save(changed)
        except DatabaseError:
            return  # kept in memory; saved by a later call
        self._unsaved_finished.clear()

    async def _flush_lane(self, destination: Destination, now: float) -> None:
        lane = self._lanes.setdefault(destination, _Lane())
        if now < lane.blocked_until:
            return
        for delivery in self._queue:
            if destination not in delivery.pending:
                continue
            delivery.attempts += 1
            delivery.saved = False
            failure = await self._notifier.deliver(delivery.message, destination)
            if failure is None:
                delivery.pending.discard(destination)
                lane.failures = 0
                if not delivery.pending:
                    delivery.last_error = None
                await self._save()  # at once: a restart must not send it to this one again
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
        """Save what changed (when the database answers); close the store and the notifier."""
        await self._save()
        if self.store is not None:
            await self.store.close()
        await self._notifier.close()
