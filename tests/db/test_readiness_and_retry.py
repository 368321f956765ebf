"""Readiness gives up clearly and in bounded time; transient failures are retried for real."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise.config import load_settings
from bandwise.db.engine import create_engine
from bandwise.db.readiness import backoff_delays, wait_for_database
from bandwise.db.retry import run_transaction
from bandwise.errors import DatabaseUnavailable
from testkit.pg_cluster import PgCluster, free_port


async def test_wait_gives_up_in_bounded_time_naming_host_and_port(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there
    engine = create_engine(
        load_settings(
            database_url=f"postgresql://bandwise@127.0.0.1:{port}/bandwise", db_connect_timeout=1
        )
    )
    with caplog.at_level(logging.INFO), pytest.raises(DatabaseUnavailable) as caught:
        await wait_for_database(engine, timeout=1.5)
    await engine.dispose()
    message = str(caught.value)
    assert message.splitlines() == [
        message.splitlines()[0],
        f"  target: postgresql+asyncpg://bandwise@127.0.0.1:{port}/bandwise",
        f"  try: is PostgreSQL running and listening on 127.0.0.1:{port}? "
        "(`bandwise db wait` waits for it)",
    ]
    assert message.startswith("cannot use the database: connection refused; gave up waiting")
    attempts = [record for record in caplog.records if "not ready (attempt" in record.message]
    assert len(attempts) >= 2
    # Bounded: it gave up at the timeout. Every failed attempt but the last announced a wait,
    # and the waits it announced (each rounded to 0.01 s) fit in the 1.5 s it was given.
    gave_up = re.search(r"gave up waiting for the database after (\d+) attempts in 1.5 s", message)
    assert gave_up is not None, message
    assert len(attempts) == int(gave_up.group(1)) - 1
    delays = [float(record.args[2]) for record in attempts]  # type: ignore[index]
    assert sum(delays) <= 1.5 + 0.005 * len(delays), delays


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    delays = backoff_delays(initial=0.1, maximum=1.0, jitter=0.25, rng=lambda: 1.0)
    observed = [round(next(delays), 4) for _ in range(6)]
    assert observed == [0.125, 0.25, 0.5, 1.0, 1.25, 1.25]


async def test_wait_succeeds_immediately_when_up(database_url: str) -> None:
    engine = create_engine(load_settings(database_url=database_url))
    assert await wait_for_database(engine, timeout=5) == 1
    await engine.dispose()


async def test_disconnect_mid_transaction_is_retried(
    pg_cluster: PgCluster, pg_database: str
) -> None:
    engine = create_engine(load_settings(database_url=pg_database))
    sessions = async_sessionmaker(engine)
    calls = 0

    async def work(session: AsyncSession) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # the server drops this very connection mid-transaction
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            pg_cluster.psql(f"SELECT pg_terminate_backend({pid})")
        return int((await session.execute(text("SELECT 41 + 1"))).scalar_one())

    try:
        assert await run_transaction(sessions, work, attempts=3) == 42
        assert calls == 2
    finally:
        await engine.dispose()


async def test_sqlite_lock_held_by_another_writer_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = create_engine(
        load_settings(database_url=f"sqlite:///{path}", db_sqlite_busy_timeout=0.05)
    )
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    asyncio.get_running_loop().call_later(0.3, other.rollback)
    calls = 0

    async def work(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        await session.execute(text("INSERT INTO t VALUES (1)"))

    try:
        await run_transaction(async_sessionmaker(engine), work, attempts=8)
        assert calls >= 2
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        other.close()
        await engine.dispose()
