"""Pool and query metrics move as expected under controlled load, on both engines."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise import events
from bandwise.config import Settings
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.db.retry import run_transaction
from bandwise.errors import DatabaseBusy
from bandwise.ops.monitoring.metrics import EngineMetrics, safe_label, sql_operation
from testkit.waiting import wait_until_async


def test_operation_label_is_the_first_keyword_only() -> None:
    assert sql_operation("  SELECT * FROM users WHERE username = 'alice'") == "select"
    assert sql_operation("/* hint */ -- note\n INSERT INTO t VALUES (1)") == "insert"
    assert sql_operation("with x as (select 1) select * from x") == "with"
    assert sql_operation("frobnicate the essay of alice") == "other"
    assert sql_operation("") == "other"
    assert safe_label("Task 2 / Essay!") == "task_2_essay"


async def test_pool_metrics_rise_then_count_waiters_and_timeouts(settings: Settings) -> None:
    tiny = settings.model_copy(
        update={"db_pool_size": 2, "db_max_overflow": 0, "db_pool_timeout": 0.5}
    )
    engine = create_engine(tiny)
    metrics = EngineMetrics(engine, capacity=2)
    try:
        first = await engine.connect()
        assert metrics.value("bandwise_db_pool_checked_out") == 1
        second = await engine.connect()
        assert metrics.value("bandwise_db_pool_checked_out") == 2
        assert metrics.value("bandwise_db_pool_connections_created_total") == 2

        async def third() -> None:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        waiting = asyncio.create_task(third())

        async def third_waits() -> bool:
            return metrics.value("bandwise_db_pool_waiters") == 1

        await wait_until_async(third_waits, timeout=10, what="the third checkout waits")
        with pytest.raises(Exception, match="QueuePool limit"):
            await waiting
        assert metrics.value("bandwise_db_pool_waiters") == 0
        assert metrics.value("bandwise_db_pool_checkout_timeouts_total") == 1
        assert metrics.value("bandwise_db_pool_checkout_wait_seconds_count") == 3
        assert metrics.value("bandwise_db_pool_checkout_wait_seconds_sum") >= 0.5

        # Through the retrying unit of work the timeout becomes DatabaseBusy, counted by kind.
        async def work(session: AsyncSession) -> None:
            await session.execute(text("SELECT 1"))

        with pytest.raises(DatabaseBusy):
            await run_transaction(create_sessionmaker(engine), work)
        assert metrics.value("bandwise_db_errors_total", {"kind": "pool_timeout"}) is not None
        assert metrics.value("bandwise_db_pool_checkout_timeouts_total") == 2

        await first.execute(text("SELECT 1"))
        await first.close()
        await second.close()
        assert metrics.value("bandwise_db_pool_checked_out") == 0
        assert metrics.value("bandwise_db_pool_checked_in") == 2
        assert (
            metrics.value("bandwise_db_query_duration_seconds_count", {"operation": "select"}) or 0
        ) >= 1
    finally:
        await engine.dispose()
    assert (metrics.value("bandwise_db_pool_connections_recycled_total") or 0) >= 2


async def test_connections_opened_before_the_metrics_are_counted(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as early:  # start-up connects before monitoring starts
            await early.execute(text("SELECT 1"))
            metrics = EngineMetrics(engine, capacity=30)
            assert metrics.value("bandwise_db_pool_checked_out") == 1
            assert metrics.value("bandwise_db_pool_connections_created_total") == 1
            async with engine.connect():  # a checkout opens a second connection
                assert metrics.value("bandwise_db_pool_connections_created_total") == 2
    finally:
        await engine.dispose()


async def test_statement_errors_are_counted_by_kind(settings: Settings) -> None:
    engine = create_engine(settings)
    metrics = EngineMetrics(engine, capacity=30)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError):
                await connection.execute(text("SELECT * FROM no_such_table"))
        assert metrics.value("bandwise_db_statement_errors_total", {"kind": "other"}) == 1
        assert metrics.value("bandwise_db_disconnects_total") == 0
    finally:
        await engine.dispose()


async def test_application_counters_reach_every_registry(settings: Settings) -> None:
    engine = create_engine(settings)
    first, second = EngineMetrics(engine, capacity=30), EngineMetrics(engine, capacity=30)
    try:
        before = first.value("bandwise_submissions_total", {"task_type": "task_2"}) or 0
        events.emit(events.EssaySubmitted("task_2"))
        events.emit(events.EssayScored("heuristic", succeeded=True))
        events.emit(events.EssayScored("llm", succeeded=False))
        events.emit(events.LimitRefused())
        events.emit(events.BotUpdateHandled("message", 0.12))
        events.emit(events.PaymentHandled("succeeded"))
        for metrics in (first, second):
            assert (
                metrics.value("bandwise_submissions_total", {"task_type": "task_2"}) == before + 1
            )
            assert (
                metrics.value(
                    "bandwise_assessments_total", {"assessor": "llm", "outcome": "failed"}
                )
                or 0
            ) >= 1
            assert (metrics.value("bandwise_bot_update_handling_seconds_count") or 0) >= 1
            exposition = metrics.exposition().decode()
            for name in (
                "bandwise_rate_limit_refusals_total",
                "bandwise_payments_total",
                "bandwise_bot_updates_total",
            ):
                assert name in exposition
    finally:
        await engine.dispose()
