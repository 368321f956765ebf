"""Run monitoring beside a runtime: instrument its engine, collect statistics, alert.

``start_monitoring(runtime)`` instruments the engine and starts one background task that,
every ``DB_STATS_INTERVAL`` seconds, collects statistics on a separate pool-less engine (so a
saturated pool neither delays it nor is disturbed by it), samples the charts, and evaluates
the alerts. Requests never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine
from bandwise.ops.health import pool_usage
from bandwise.ops.monitoring.alerts import Alerter
from bandwise.ops.monitoring.backups import BackupCollector, backup_origin, list_backups
from bandwise.ops.monitoring.bot_metrics import BotCollector
from bandwise.ops.monitoring.history import History, Sample
from bandwise.ops.monitoring.leader import LeaderCollector, leader_for
from bandwise.ops.monitoring.metrics import EngineMetrics
from bandwise.ops.monitoring.notify import Notifier
from bandwise.ops.monitoring.outbox import Outbox
from bandwise.ops.monitoring.outbox_store import OutboxStore
from bandwise.ops.monitoring.pg_stats import (
    SUBMISSIONS,
    DatabaseStats,
    StatsExporter,
    StatsTimeouts,
    collect_database_stats,
)
from bandwise.ops.monitoring.rules import (
    COUNTER_WINDOW_SECONDS,
    DEFAULT_RULES,
    AlertRule,
    Observation,
)
from bandwise.runtime import Runtime

log = logging.getLogger(__name__)


class Monitoring:
    """Metrics, statistics, chart history and the alerter of one runtime."""

    def __init__(self, runtime: Runtime, rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> None:
        self.runtime = runtime
        settings: Settings = runtime.settings
        self.interval = settings.db_stats_interval
        _, capacity = pool_usage(runtime)
        self.metrics = EngineMetrics(runtime.engine, capacity)
        self.stats = StatsExporter()
        self.metrics.add_collector(self.stats)
        self.metrics.add_collector(
            BackupCollector(settings.backup_dir, backup_origin(settings.resolved_database_url))
        )
        self.metrics.add_collector(BotCollector(runtime))
        self.history = History(max_samples=int(3600 / self.interval) + 2)
        url = runtime.engine.url.render_as_string(hide_password=False)
        self.stats_engine: AsyncEngine = create_engine(settings, url=url, null_pool=True)
        self.lock_engine = lock_engine(settings, self.stats_engine)
        leader = leader_for(self.lock_engine)
        notifier = Notifier(settings)
        self.alerter = Alerter(
            rules,
            notifier,
            leader,
            settings.alert_cooldown_seconds,
            Outbox(notifier, store=OutboxStore.open(settings, url)),
        )
        self.metrics.add_collector(LeaderCollector(leader))
        self._task: asyncio.Task[None] | None = None
        self._previous: DatabaseStats | None = None
        # The snapshots the windowed rules (deadlocks, rollbacks) count over.
        self._window: deque[DatabaseStats] = deque()
        self._latency_mark = (0.0, 0)

    async def tick(self) -> DatabaseStats:
        """Collect once, sample the charts and evaluate the alerts."""
        timeouts = StatsTimeouts(answer=max(1.0, min(10.0, self.interval)))
        stats = await collect_database_stats(self.stats_engine, timeouts=timeouts)
        previous, self._previous = self._previous, stats
        self._log_change(stats, previous)
        self.stats.latest = stats
        self.history.add(self._sample(stats, previous))
        await self.alerter.evaluate(self.observe(stats))
        return stats

    def observe(self, stats: DatabaseStats) -> Observation:
        """Return what the rules see with ``stats`` as the newest snapshot (then remember it)."""
        oldest_needed = stats.collected_at - COUNTER_WINDOW_SECONDS - 2 * self.interval
        while self._window and self._window[0].collected_at < oldest_needed:
            self._window.popleft()
        observation = Observation(
            stats=stats,
            history=list(self._window),
            pool_waiters=self.metrics.waiting,
            backups=list_backups(
                self.runtime.settings.backup_dir,
                backup_origin(self.runtime.settings.resolved_database_url),
            ),
            now=stats.collected_at,
        )
        self._window.append(stats)
        return observation

    @staticmethod
    def _log_change(stats: DatabaseStats, previous: DatabaseStats | None) -> None:
        if not stats.up and (previous is None or previous.up):
            log.warning("database %s does not answer: %s", stats.target, stats.error)
        elif stats.up and previous is not None and not previous.up:
            log.info("database %s answers again", stats.target)
        if stats.stale and (previous is None or not previous.stale):
            log.warning("database statistics stale: %s", stats.stale)
        elif stats.complete and previous is not None and previous.stale:
            log.info("database statistics collected in full again")

    def _sample(self, stats: DatabaseStats, previous: DatabaseStats | None) -> Sample:
        checked_out, capacity = pool_usage(self.runtime)
        seconds, count = self.metrics.query_seconds_total, self.metrics.query_count
        mark_seconds, mark_count = self._latency_mark
        self._latency_mark = (seconds, count)
        mean_ms = (
            (seconds - mark_seconds) / (count - mark_count) * 1000 if count > mark_count else 0.0
        )
        submissions = 0
        if previous is not None and previous.has(SUBMISSIONS) and stats.has(SUBMISSIONS):
            submissions = max(0, stats.latest_submission_id - previous.latest_submission_id)
        return Sample(
            at=stats.collected_at,
            pool_checked_out=checked_out,
            pool_capacity=capacity,
            connections=stats.total_connections,
            max_connections=stats.max_connections or 0,
            mean_query_ms=mean_ms,
            submissions=submissions,
        )

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive any one bad collection
                log.exception("monitoring tick failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        """Start the background task on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="bandwise-monitoring"
            )

    async def stop(self) -> None:
        """Stop the background task and release the alerter's lock and engine."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.alerter.close()
        await self.stats_engine.dispose()
        if self.lock_engine is not self.stats_engine:
            await self.lock_engine.dispose()


def lock_engine(settings: Settings, stats_engine: AsyncEngine) -> AsyncEngine:
    """Return the engine holding the alerter's lock: PostgreSQL directly when PgBouncer pools."""
    direct = settings.database_direct_url
    if direct is None or stats_engine.dialect.name != "postgresql":
        return stats_engine
    return create_engine(settings, url=direct.get_secret_value(), null_pool=True)


def start_monitoring(runtime: Runtime, rules: tuple[AlertRule, ...] = DEFAULT_RULES) -> Monitoring:
    """Attach monitoring to ``runtime`` (once) and start its background task."""
    monitoring = runtime.monitoring or Monitoring(runtime, rules)
    runtime.monitoring = monitoring
    monitoring.start()
    return monitoring


def monitoring_of(runtime: Runtime) -> Monitoring | None:
    """Return the runtime's monitoring, if started."""
    return runtime.monitoring
