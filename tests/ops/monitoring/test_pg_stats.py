"""Statistics collection reads the real catalogs (PostgreSQL) or the file size (SQLite)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import load_settings
from bandwise.db.engine import create_engine
from bandwise.ops.monitoring.pg_stats import StatsExporter, collect_database_stats
from bandwise.ops.monitoring.rules import LONG_TRANSACTION_SECONDS, Observation, long_transaction
from testkit.pg_cluster import PgCluster, free_port


async def test_collects_a_snapshot(engine: AsyncEngine, engine_name: str) -> None:
    stats = await collect_database_stats(engine)
    assert stats.up and stats.error is None
    assert stats.size_bytes > 0
    assert stats.server_version
    if engine_name == "sqlite":
        assert stats.connections == {}
        return
    assert stats.max_connections == 200
    assert stats.total_connections >= 1
    assert stats.commits > 0
    assert {table.name for table in stats.tables} >= {"users", "submissions", "assessments"}
    assert stats.replication_lag_seconds == {}


async def test_sees_an_open_transaction_and_idle_in_transaction(
    engine: AsyncEngine, engine_name: str
) -> None:
    if engine_name == "sqlite":
        return  # SQLite has no server sessions to look at
    async with engine.connect() as holder:
        await holder.execute(text("SELECT 1"))  # opens the transaction and leaves it idle
        await holder.execute(text("SELECT pg_sleep(0.2)"))
        pid = await holder.scalar(text("SELECT pg_backend_pid()"))
        stats = await collect_database_stats(engine)
    assert stats.longest_transaction_seconds >= 0.2
    assert stats.idle_in_transaction >= 1
    session = stats.oldest_session
    assert session is not None and session.pid == pid
    assert session.application == "bandwise" and session.state == "idle in transaction"
    assert session.transaction_start and session.query_start
    assert session.query_start >= session.transaction_start
    old = replace(stats, longest_transaction_seconds=LONG_TRANSACTION_SECONDS + 1)
    check = long_transaction(Observation(old))
    assert check is not None and check.holds
    assert f"session pid {pid} (application 'bandwise', state idle in transaction" in check.detail
    assert re.search(r"query started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", check.detail)


async def test_the_stats_timestamp_moves_only_on_a_complete_collection(
    engine: AsyncEngine,
) -> None:
    exporter = StatsExporter()
    registry = CollectorRegistry()
    registry.register(exporter)
    good = await collect_database_stats(engine)
    exporter.latest = good
    assert registry.get_sample_value("bandwise_db_stats_timestamp_seconds") == good.collected_at
    exporter.latest = replace(good, collected_at=good.collected_at + 30, up=False, error="x")
    assert registry.get_sample_value("bandwise_db_up") == 0
    assert registry.get_sample_value("bandwise_db_stats_timestamp_seconds") == good.collected_at
    exporter.latest = replace(good, collected_at=good.collected_at + 60, stale={"tables": "x"})
    assert registry.get_sample_value("bandwise_db_up") == 1
    assert registry.get_sample_value("bandwise_db_stats_timestamp_seconds") == good.collected_at


async def test_exports_the_snapshot(engine: AsyncEngine, engine_name: str) -> None:
    exporter = StatsExporter()
    registry = CollectorRegistry()
    registry.register(exporter)
    assert generate_latest(registry) == b""
    exporter.latest = await collect_database_stats(engine)
    assert registry.get_sample_value("bandwise_db_up") == 1
    assert (registry.get_sample_value("bandwise_db_size_bytes") or 0) > 0
    if engine_name == "postgresql":
        assert registry.get_sample_value("bandwise_pg_max_connections") == 200
        assert registry.get_sample_value("bandwise_pg_table_dead_tuples", {"table": "users"}) == 0
        assert (registry.get_sample_value("bandwise_pg_xact_commit_total") or 0) > 0


async def test_unreachable_database_is_reported_not_raised() -> None:
    settings = load_settings(
        database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none", db_connect_timeout=1
    )
    engine = create_engine(settings, null_pool=True)
    try:
        stats = await collect_database_stats(engine, budget_seconds=3)
    finally:
        await engine.dispose()
    assert not stats.up
    assert stats.error
    assert stats.target.startswith("postgresql+asyncpg://nobody@127.0.0.1:")


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.mark.slow
@pytest.mark.postgres
async def test_replication_lag_and_slowest_statements() -> None:
    primary = PgCluster(settings={"shared_preload_libraries": "'pg_stat_statements'"})
    primary.start()
    replica = PgCluster()
    try:
        replica.init()  # directories with the right owner; the data comes from the primary
        shutil.rmtree(replica.datadir)
        subprocess.run(
            _as_postgres(
                [
                    str(replica.bindir / "pg_basebackup"),
                    "-h",
                    primary.host,
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(replica.datadir),
                    "-R",
                    "-X",
                    "stream",
                ],
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        with open(replica.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"port = {replica.port}\nunix_socket_directories = '{replica.socketdir}'\n"
                "cluster_name = 'replica1'\nhot_standby = on\n"
            )
        replica.start()
        primary.psql("CREATE EXTENSION pg_stat_statements")
        primary.psql("CREATE TABLE moved (id int); INSERT INTO moved VALUES (1)")
        primary.psql("SELECT pg_sleep(0.05)")
        stats_of = {}
        for name, cluster in (("primary", primary), ("replica", replica)):
            engine = create_engine(load_settings(database_url=cluster.url()), null_pool=True)
            try:
                stats_of[name] = await collect_database_stats(engine)
            finally:
                await engine.dispose()
    finally:
        replica.destroy()
        primary.destroy()
    assert stats_of["primary"].up and stats_of["replica"].up, stats_of
    assert list(stats_of["primary"].replication_lag_seconds) == ["replica1"]
    assert list(stats_of["replica"].replication_lag_seconds) == ["self"]
    slowest = stats_of["primary"].slowest_statements
    assert 1 <= len(slowest) <= 5 and slowest[0][2] >= 0.05  # (query id, calls, mean seconds)
    assert all(queryid.lstrip("-").isdigit() for queryid, _, _ in slowest)  # ids, never text


async def test_an_empty_database_is_up_with_no_submissions(empty_database_url: str) -> None:
    engine = create_engine(load_settings(database_url=empty_database_url), null_pool=True)
    try:
        if engine.dialect.name == "sqlite":  # a SQLite file appears on first connect
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        stats = await collect_database_stats(engine)
    finally:
        await engine.dispose()
    assert stats.up, stats.error
    assert stats.latest_submission_id == 0
