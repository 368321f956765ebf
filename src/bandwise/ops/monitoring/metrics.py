"""Prometheus metrics: application counters (process-wide) and one engine's pool and queries.

Every metric lives in a dedicated ``CollectorRegistry`` (never the global default), so several
apps can coexist in one process (tests). Labels are bounded: an operation keyword, an error
kind, an assessor name — never statement text, essay text or a username.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise import events
from bandwise.db.errors import error_kind
from bandwise.db.pool_counts import track_connections

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HANDLING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
KNOWN_OPERATIONS = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "with",
        "begin",
        "commit",
        "rollback",
        "savepoint",
        "release",
        "create",
        "alter",
        "drop",
        "copy",
        "set",
        "show",
        "pragma",
        "truncate",
        "lock",
        "analyze",
        "vacuum",
        "explain",
    }
)
_LEADING_NOISE = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)+", re.DOTALL)
_LABEL_VALUE = re.compile(r"[^a-z0-9_]+")


def sql_operation(statement: str) -> str:
    """Return the lower-case first keyword of ``statement`` (``other`` when unknown)."""
    stripped = _LEADING_NOISE.sub("", statement[:200])
    keyword = stripped.split(None, 1)[0].lower() if stripped.strip() else ""
    return keyword if keyword in KNOWN_OPERATIONS else "other"


def safe_label(value: str, fallback: str = "unknown") -> str:
    """Return ``value`` reduced to a short ``[a-z0-9_]`` label (bounded cardinality)."""
    cleaned = _LABEL_VALUE.sub("_", value.lower()).strip("_")[:40]
    return cleaned or fallback


class ApplicationMetrics:
    """Counters of what the application does, shared by every engine in the process."""

    def __init__(self) -> None:
        self.submissions = Counter(
            "bandwise_submissions", "Essays accepted for scoring.", ["task_type"], registry=None
        )
        self.assessments = Counter(
            "bandwise_assessments",
            "Essays scored, by assessor.",
            ["assessor", "outcome"],
            registry=None,
        )
        self.disagreements = Counter(
            "bandwise_assessment_disagreements",
            "LLM results more than 1.5 bands from the offline model's (flagged).",
            ["assessor"],
            registry=None,
        )
        self.rate_limit_refusals = Counter(
            "bandwise_rate_limit_refusals", "Essays refused by the daily limit.", registry=None
        )
        self.bot_updates = Counter(
            "bandwise_bot_updates",
            "Telegram updates handled, by kind.",
            ["kind", "outcome"],
            registry=None,
        )
        self.bot_handling = Histogram(
            "bandwise_bot_update_handling_seconds",
            "Seconds to handle one Telegram update.",
            buckets=HANDLING_BUCKETS,
            registry=None,
        )
        self.payments = Counter(
            "bandwise_payments", "Payments, by outcome.", ["outcome"], registry=None
        )
        self.db_errors = Counter(
            "bandwise_db_errors",
            "Database errors surfaced to callers, by kind.",
            ["kind"],
            registry=None,
        )
        self.db_retries = Counter(
            "bandwise_db_retries",
            "Transactions retried after a transient failure, by kind.",
            ["kind"],
            registry=None,
        )

    def collectors(self) -> list[Collector]:
        """Return every metric of this object (for registering in a registry)."""
        return [
            self.submissions,
            self.assessments,
            self.disagreements,
            self.rate_limit_refusals,
            self.bot_updates,
            self.bot_handling,
            self.payments,
            self.db_errors,
            self.db_retries,
        ]


APPLICATION = ApplicationMetrics()
_hooks_installed = threading.Lock()
_hooks_done: list[bool] = []


def _install_retry_hooks() -> None:
    # Subscriptions are process-wide: register ours exactly once per process.
    with _hooks_installed:
        if _hooks_done:
            return
        events.subscribe(events.DatabaseRetried, count_database_retry)
        events.subscribe(events.DatabaseFailed, count_database_error)
        events.subscribe(events.EssaySubmitted, count_submission)
        events.subscribe(events.EssayScored, count_assessment)
        events.subscribe(events.ScoresDisagreed, count_disagreement)
        events.subscribe(events.LimitRefused, count_limit_refusal)
        events.subscribe(events.BotUpdateHandled, count_bot_update)
        events.subscribe(events.PaymentHandled, count_payment)
        _hooks_done.append(True)


def count_database_retry(event: events.DatabaseRetried) -> None:
    """Count one transaction retried after a transient failure."""
    APPLICATION.db_retries.labels(safe_label(event.kind)).inc()


def count_database_error(event: events.DatabaseFailed) -> None:
    """Count one database error surfaced to a caller."""
    APPLICATION.db_errors.labels(safe_label(event.kind)).inc()


def count_disagreement(event: events.ScoresDisagreed) -> None:
    """Count one LLM result flagged for disagreeing with the offline model."""
    APPLICATION.disagreements.labels(safe_label(event.assessor)).inc()


def count_submission(event: events.EssaySubmitted) -> None:
    """Count one essay accepted for scoring (by task type)."""
    APPLICATION.submissions.labels(safe_label(event.task_type)).inc()


def count_assessment(event: events.EssayScored) -> None:
    """Count one scoring attempt by its assessor (``heuristic``, ``llm``, …) and outcome."""
    outcome = "ok" if event.succeeded else "failed"
    APPLICATION.assessments.labels(safe_label(event.assessor), outcome).inc()


def count_limit_refusal(_event: events.LimitRefused) -> None:
    """Count one essay refused because the candidate reached the daily limit."""
    APPLICATION.rate_limit_refusals.inc()


def count_bot_update(event: events.BotUpdateHandled) -> None:
    """Count one Telegram update by kind and outcome, and its handling time."""
    outcome = "refused" if event.refused else ("ok" if event.succeeded else "failed")
    APPLICATION.bot_updates.labels(safe_label(event.kind), outcome).inc()
    APPLICATION.bot_handling.observe(event.seconds)


def count_payment(event: events.PaymentHandled) -> None:
    """Count one payment by outcome (``succeeded``, ``duplicate``, ``refunded``)."""
    APPLICATION.payments.labels(safe_label(event.outcome)).inc()


class _PoolCollector(Collector):
    """Read the pool's size, checked-out, checked-in and overflow at scrape time."""

    def __init__(self, engine: AsyncEngine, capacity: int) -> None:
        self._engine = engine
        self._capacity = capacity
        self._connections = track_connections(engine)

    def collect(self) -> Iterator[Metric]:
        pool: Any = self._engine.sync_engine.pool
        readings: dict[str, Callable[[], Any]] = {
            "size": getattr(pool, "size", lambda: 0),
            "checked_out": getattr(pool, "checkedout", lambda: 0),
            "checked_in": getattr(pool, "checkedin", lambda: 0),
            "overflow": getattr(pool, "overflow", lambda: 0),
        }
        for name, read in readings.items():
            yield GaugeMetricFamily(
                f"bandwise_db_pool_{name}", f"Pool connections: {name}.", value=max(0, int(read()))
            )
        yield CounterMetricFamily(
            "bandwise_db_pool_connections_created",
            "Database connections the pool opened since the engine was created.",
            value=self._connections.created,
        )
        yield GaugeMetricFamily(
            "bandwise_db_pool_capacity",
            "Connections the pool may hold (size + max overflow).",
            value=self._capacity,
        )


class EngineMetrics:
    """Pool and query metrics of one engine, in a registry that also holds the application's."""

    def __init__(self, engine: AsyncEngine, capacity: int) -> None:
        self.engine = engine
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in APPLICATION.collectors():
            self.registry.register(collector)
        _install_retry_hooks()
        reg = self.registry
        self.registry.register(_PoolCollector(engine, capacity))
        self.waiters = Gauge(
            "bandwise_db_pool_waiters", "Callers waiting for a pooled connection.", registry=reg
        )
        self.checkout_wait = Histogram(
            "bandwise_db_pool_checkout_wait_seconds",
            "Seconds spent getting a connection from the pool.",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.checkout_timeouts = Counter(
            "bandwise_db_pool_checkout_timeouts",
            "Checkouts that gave up after DB_POOL_TIMEOUT.",
            registry=reg,
        )
        self.checkouts = Counter(
            "bandwise_db_pool_checkouts", "Connections checked out.", registry=reg
        )
        self.invalidated = Counter(
            "bandwise_db_pool_connections_invalidated",
            "Connections invalidated (soft: replaced at next checkout).",
            ["soft"],
            registry=reg,
        )
        self.recycled = Counter(
            "bandwise_db_pool_connections_recycled",
            "Connections closed by the pool (recycled, overflow or disposed).",
            registry=reg,
        )
        self.queries = Histogram(
            "bandwise_db_query_duration_seconds",
            "Statement duration by operation (first SQL keyword).",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.statement_errors = Counter(
            "bandwise_db_statement_errors",
            "Driver errors raised by statements or connects, by kind.",
            ["kind"],
            registry=reg,
        )
        self.disconnects = Counter(
            "bandwise_db_disconnects",
            "Errors that meant the connection or the server went away.",
            registry=reg,
        )
        # Plain running totals for the operator's page (mean latency between two samples).
        self.query_seconds_total = 0.0
        self.query_count = 0
        self.waiting = 0
        self._instrument()

    def add_collector(self, collector: Collector) -> None:
        """Register another collector (PostgreSQL statistics, backups) in this registry."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """Return one sample's current value (tests and the operator's page)."""
        return self.registry.get_sample_value(name, labels or {})

    # --- instrumentation ----------------------------------------------------------------------
    def _instrument(self) -> None:
        sync_engine = self.engine.sync_engine
        pool: Any = sync_engine.pool
        self._wrap_checkout(pool)
        event.listen(sync_engine, "checkout", lambda *_: self.checkouts.inc())
        event.listen(sync_engine, "invalidate", lambda *_: self.invalidated.labels("false").inc())
        event.listen(
            sync_engine, "soft_invalidate", lambda *_: self.invalidated.labels("true").inc()
        )
        event.listen(sync_engine, "close", lambda *_: self.recycled.inc())
        event.listen(sync_engine, "before_cursor_execute", self._before_execute)
        event.listen(sync_engine, "after_cursor_execute", self._after_execute)
        event.listen(sync_engine, "handle_error", self._on_error)
        # dispose() replaces the pool: time the new one's checkouts too.
        event.listen(
            sync_engine, "engine_disposed", lambda engine: self._wrap_checkout(engine.pool)
        )

    def _wrap_checkout(self, pool: Any) -> None:
        # QueuePool offers no "waiting" event: time the one method every checkout goes through.
        if not hasattr(pool, "_do_get") or getattr(pool, "_bandwise_timed", False):
            return
        pool._bandwise_timed = True
        original = pool._do_get

        def timed_get() -> Any:
            started = time.perf_counter()
            self.waiters.inc()
            self.waiting += 1
            try:
                return original()
            except sa_exc.TimeoutError:
                self.checkout_timeouts.inc()
                raise
            finally:
                self.waiters.dec()
                self.waiting -= 1
                self.checkout_wait.observe(time.perf_counter() - started)

        pool._do_get = timed_get

    def _before_execute(
        self, _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is not None:
            context._bandwise_started = time.perf_counter()

    def _after_execute(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        started = getattr(context, "_bandwise_started", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        self.queries.labels(sql_operation(statement)).observe(elapsed)
        self.query_seconds_total += elapsed
        self.query_count += 1

    def _on_error(self, context: Any) -> None:
        self.statement_errors.labels(error_kind(context.original_exception)).inc()
        if context.is_disconnect:
            self.disconnects.inc()
