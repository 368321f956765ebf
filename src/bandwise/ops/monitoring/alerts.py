"""The built-in alerter: evaluate the rules, track episodes, send once per cluster.

Every instance evaluates (so a new leader knows what is firing); only the leader sends. An
episode is one stretch during which a rule's condition holds past its hold time. Its start is
always announced at once, its end ("resolved", with the current value) too; while it lasts a
reminder goes out every ``ALERT_COOLDOWN_SECONDS`` (0: no reminders). So the cool-down only
limits repeats: no episode, however soon after the previous one, goes unannounced.
Messages go through an ``Outbox``: kept in order and retried with backoff until delivered.
With the outbox in the database, a restarted alerter takes up where its alerts stood when last
told (a firing alert is not announced again; its end is) and the undelivered messages.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from dataclasses import dataclass

from bandwise.errors import DatabaseError
from bandwise.ops.monitoring.leader import Leader
from bandwise.ops.monitoring.notify import AlertMessage, Notifier
from bandwise.ops.monitoring.outbox import Delivery, Outbox
from bandwise.ops.monitoring.rules import AlertRule, Observation

log = logging.getLogger(__name__)

RECENT_EVENTS = 50


@dataclass
class AlertState:
    """Where one rule stands."""

    rule: AlertRule
    pending_since: float | None = None
    firing_since: float | None = None
    detail: str = ""
    last_sent_at: float | None = None

    @property
    def firing(self) -> bool:
        """Tell whether the alert fires now."""
        return self.firing_since is not None


@dataclass(frozen=True)
class FiringAlert:
    """An alert that fires now (for the status views)."""

    name: str
    severity: str
    summary: str
    detail: str
    since: float


class Alerter:
    """Evaluate ``rules`` against each observation and notify through ``notifier``."""

    def __init__(
        self,
        rules: tuple[AlertRule, ...],
        notifier: Notifier,
        leader: Leader,
        cooldown_seconds: float,
        outbox: Outbox | None = None,
    ) -> None:
        self._states = {rule.name: AlertState(rule) for rule in rules}
        self._notifier = notifier
        self._leader = leader
        self._cooldown = cooldown_seconds
        self._instance = socket.gethostname()
        self.outbox = outbox or Outbox(notifier)
        self.recent: deque[Delivery] = deque(maxlen=RECENT_EVENTS)
        self._restored = False  # where the alerts stood, read back from the outbox's store

    @property
    def is_leader(self) -> bool:
        """Tell whether this instance sent (or would send) the last messages."""
        return self._leader.is_leader

    def firing(self) -> list[FiringAlert]:
        """Return the alerts firing now, oldest first."""
        states = sorted(
            (s for s in self._states.values() if s.firing_since is not None),
            key=lambda s: s.firing_since or 0.0,
        )
        return [
            FiringAlert(
                s.rule.name, s.rule.severity, s.rule.summary, s.detail, s.firing_since or 0.0
            )
            for s in states
        ]

    async def evaluate(self, observation: Observation) -> list[AlertMessage]:
        """Update every rule's state, queue the messages and deliver what is due (leader only).

        Returns the messages that reached every destination during this call.
        """
        if not self._restored:
            await self._restore()
        changes = [
            message
            for state in self._states.values()
            if (message := self._step(state, observation)) is not None
        ]
        for message in changes:
            log.info("alert %s %s: %s", message.alert, message.status, message.detail)
        # Refreshed on every evaluation, not only on changes: the leader keeps its lock alive
        # and a follower gets to see the lock free twice.
        leading = self._notifier.configured and await self._leader.refresh()
        if leading:  # the database's queue, which another instance may have worked on since
            self.recent.extend(await self.outbox.resume() or ())
        for message in changes:
            if leading:
                self.recent.append(self.outbox.add(message, observation.now))
            else:
                reason = "another instance sends" if self._notifier.configured else None
                self.recent.append(Delivery(message, note=reason or "no destination configured"))
        if not leading:
            return []
        delivered = await self.outbox.flush(observation.now)
        return [delivery.message for delivery in delivered]

    async def _restore(self) -> None:
        """Take up each alert where its newest stored message left it (firing or not)."""
        store = self.outbox.store
        if store is None:
            self._restored = True
            return
        try:
            latest = await store.latest_messages()
        except DatabaseError:
            return  # tried again at the next evaluation
        self._restored = True
        for message, queued_at in latest:
            state = self._states.get(message.alert)
            if state is None or state.firing or state.pending_since is not None:
                continue  # unknown now, or already under way in this process
            if message.status == "firing":
                state.firing_since = message.started_at
                state.last_sent_at = queued_at

    def _step(self, state: AlertState, observation: Observation) -> AlertMessage | None:
        now = observation.now
        check = state.rule.condition(observation)
        if check is None:  # the rule cannot tell now (database down, statistics stale)
            return None
        state.detail = check.detail
        if not check.holds:
            state.pending_since = None
            if state.firing_since is None:
                return None
            started, state.firing_since = state.firing_since, None
            state.last_sent_at = now
            return self._message(state, "resolved", started, now)
        if state.firing_since is not None:
            if self._cooldown > 0 and now - (state.last_sent_at or now) >= self._cooldown:
                state.last_sent_at = now
                return self._message(state, "firing", state.firing_since, None, reminder=True)
            return None
        state.pending_since = state.pending_since if state.pending_since is not None else now
        if now - state.pending_since < state.rule.for_seconds:
            return None
        # A new episode: announced at once, however recently the previous one ended.
        state.firing_since = now
        state.last_sent_at = now
        return self._message(state, "firing", now, None)

    def _message(
        self,
        state: AlertState,
        status: str,
        started: float,
        resolved: float | None,
        *,
        reminder: bool = False,
    ) -> AlertMessage:
        return AlertMessage(
            status=status,
            alert=state.rule.name,
            severity=state.rule.severity,
            summary=state.rule.summary,
            detail=state.detail,
            started_at=started,
            instance=self._instance,
            resolved_at=resolved,
            reminder=reminder,
        )

    async def close(self) -> None:
        """Release leadership and the notifier's connections."""
        await self._leader.release()
        await self.outbox.close()
