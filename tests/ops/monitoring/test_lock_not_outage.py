"""A lock held on a table makes statistics stale; it never makes the database "down"."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine
from bandwise.ops.monitoring.pg_stats import ACTIVITY, SUBMISSIONS, TABLES
from bandwise.ops.monitoring.service import Monitoring
from bandwise.ops.monitoring.status import collect_status
from bandwise.runtime import Runtime
from testkit.backup import write_manifest
from testkit.http_receiver import http_receiver


async def _hold_lock(engine: AsyncEngine, engine_name: str) -> object:
    holder = await engine.connect()
    if engine_name == "postgresql":
        await holder.execute(text("LOCK TABLE submissions IN ACCESS EXCLUSIVE MODE"))
    else:  # the engine's transactions begin IMMEDIATE: this holds SQLite's write lock
        await holder.execute(text("DELETE FROM submissions WHERE id < 0"))
    return holder


async def test_a_lock_held_over_a_minute_is_stale_statistics_not_an_outage(
    runtime: Runtime, settings: Settings, engine_name: str
) -> None:
    write_manifest(settings.backup_dir, 1, "passed")
    with http_receiver() as receiver:
        runtime.settings = settings.model_copy(
            update={"alert_webhook_url": f"{receiver.url}/hook", "db_stats_interval": 30.0}
        )
        monitoring = Monitoring(runtime)
        locker = create_engine(settings)
        try:
            complete = await monitoring.tick()
            assert complete.complete, complete.stale
            stamp = monitoring.metrics.value("bandwise_db_stats_timestamp_seconds")
            assert stamp == complete.collected_at

            holder = await _hold_lock(locker, engine_name)
            try:
                locked = await monitoring.tick()
                # The lock outlives a minute of collections (the alerter's clock moves on).
                for seconds in (61.0, 130.0, 301.0, 400.0):
                    later = replace(locked, collected_at=locked.collected_at + seconds)
                    await monitoring.alerter.evaluate(monitoring.observe(later))
                firing = [alert.name for alert in monitoring.alerter.firing()]
                metrics = monitoring.metrics
                assert metrics.value("bandwise_db_up") == 1
                stamp_under_lock = metrics.value("bandwise_db_stats_timestamp_seconds")
                status = await collect_status(monitoring.stats_engine, settings, stats=locked)
            finally:
                await holder.close()  # type: ignore[attr-defined]
            again = await monitoring.tick()
        finally:
            await monitoring.stop()
            await locker.dispose()
        bodies = receiver.bodies()

    assert locked.up and locked.error is None
    assert "BandwiseDatabaseDown" not in firing
    if engine_name == "sqlite":
        # WAL: a writer never blocks the read-only statistics reader, nor the status's reads.
        assert locked.complete and firing == []
        assert status.availability_text() == "up" and status.schema_at_head, status.as_dict()
        return
    # Not advanced: the last collection that read everything is the one before the lock.
    assert stamp_under_lock == stamp
    assert set(locked.stale) == {TABLES, SUBMISSIONS}, locked.stale
    assert status.availability_text().startswith("up (statistics stale: submissions: waited")
    assert "lock" in locked.stale[TABLES]
    assert locked.has(ACTIVITY) and locked.total_connections >= 2  # connections still known
    assert firing == ["BandwiseStatisticsStale"]
    assert [f"{b['alert']}:{b['status']}" for b in bodies] == [
        "BandwiseStatisticsStale:firing",
        "BandwiseStatisticsStale:resolved",
    ]
    assert "tables (waited over 1 s for a lock)" in bodies[0]["detail"]
    assert bodies[1]["detail"] == "every statistic was collected"
    assert again.complete


async def test_stale_sections_leave_their_metrics_out(
    runtime: Runtime, settings: Settings, engine_name: str
) -> None:
    if engine_name == "sqlite":
        return  # SQLite exports no per-section PostgreSQL metrics
    monitoring = Monitoring(runtime)
    locker = create_engine(settings)
    try:
        holder = await _hold_lock(locker, engine_name)
        try:
            await monitoring.tick()
        finally:
            await holder.close()  # type: ignore[attr-defined]
        metrics = monitoring.metrics
        assert metrics.value("bandwise_db_stats_stale") == 2
        assert metrics.value("bandwise_pg_connections", {"state": "active"}) is not None
        assert metrics.value("bandwise_pg_table_dead_tuples", {"table": "users"}) is None
        assert metrics.value("bandwise_db_stats_timestamp_seconds") is None  # never complete
    finally:
        await monitoring.stop()
        await locker.dispose()
