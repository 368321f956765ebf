"""The built-in alerter: evaluate the rules, track firing/resolved, send once per cluster.

Every instance evaluates (so a new leader knows what is firing); only the leader sends. A rule
that fires again within ``ALERT_COOLDOWN_SECONDS`` of its previous firing message is not
announced again (nor is its resolution), which keeps a flapping condition quiet.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from dataclasses import dataclass

from bandwise.ops.monitoring.leader import Leader
from bandwise.ops.monitoring.notify import AlertMessage, Notifier
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
    announced: bool = False
    last_announced_at: float | None = None

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
    ) -> None:
        self._states = {rule.name: AlertState(rule) for rule in rules}
        self._notifier = notifier
        self._leader = leader
        self._cooldown = cooldown_seconds
        self._instance = socket.gethostname()
        self.recent: deque[AlertMessage] = deque(maxlen=RECENT_EVENTS)

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
        """Update every rule's state and send the resulting messages (leader only)."""
        changes = [
            message
            for state in self._states.values()
            if (message := self._step(state, observation)) is not None
        ]
        self.recent.extend(changes)
        for message in changes:
            log.info("alert %s %s", message.alert, message.status)
        # Refreshed on every evaluation, not only on changes: the leader keeps its lock alive
        # and a follower gets to see the lock free twice.
        leading = self._notifier.configured and await self._leader.refresh()
        if not leading:
            return []
        return [message for message in changes if await self._notifier.send(message)]

    def _step(self, state: AlertState, observation: Observation) -> AlertMessage | None:
        now = observation.now
        detail = state.rule.condition(observation)
        if detail is None:
            state.pending_since = None
            if state.firing_since is None:
                return None
            started, state.firing_since = state.firing_since, None
            if not state.announced:
                return None
            state.announced = False
            return self._message(state, "resolved", started, now)
        state.detail = detail
        if state.firing_since is not None:
            return None
        state.pending_since = state.pending_since if state.pending_since is not None else now
        if now - state.pending_since < state.rule.for_seconds:
            return None
        state.firing_since = now
        recently = (
            state.last_announced_at is not None and now - state.last_announced_at < self._cooldown
        )
        if recently:
            log.info("alert %s fires again within the cool-down; not announced", state.rule.name)
            return None
        state.announced = True
        state.last_announced_at = now
        return self._message(state, "firing", now, None)

    def _message(
        self, state: AlertState, status: str, started: float, resolved: float | None
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
        )

    async def close(self) -> None:
        """Release leadership."""
        await self._leader.release()
