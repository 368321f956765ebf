"""Status and readiness answer while another connection holds a lock: busy is never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bandwise.config import Settings
from bandwise.ops.health import check_readiness
from bandwise.ops.monitoring.status import SCHEMA, collect_status
from bandwise.runtime import open_runtime
from testkit.locks import EVERYONE, WRITER, lock_held
from testkit.monitoring import instance

pytestmark = pytest.mark.timeout(60)
BUSY = "busy (another connection holds a lock)"
BUSY_CHECK = {"sqlite": ("database", BUSY), "postgresql": ("schema", f"unknown: {BUSY}")}


def _journal_files(settings: Settings) -> list[Path]:
    path = Path(make_url(settings.resolved_database_url).database or "")
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


async def test_a_writer_holding_the_lock_leaves_status_and_readiness_whole(
    settings: Settings, engine_name: str
) -> None:
    """The service's own file (WAL on SQLite) with a writer's lock held: all is read, all is up."""
    async with (
        open_runtime(settings) as runtime,
        lock_held(settings.resolved_database_url, WRITER[engine_name]),
    ):
        status = await collect_status(runtime.engine, settings)
        report = await check_readiness(runtime)
    assert status.availability_text() == "up", status.as_dict()
    assert status.schema_at_head is True
    assert report.ready, report.as_dict()


async def test_a_lock_that_stops_readers_is_busy_not_down(
    settings: Settings, engine_name: str
) -> None:
    """Readers blocked too (SQLite's exclusive lock, a migration's lock): answered as busy."""
    runtime = instance(settings)  # not started: a SQLite file keeps its rollback journal
    try:
        async with lock_held(settings.resolved_database_url, EVERYONE[engine_name]):
            status = await collect_status(runtime.engine, settings)
            report = await check_readiness(runtime)
    finally:
        await runtime.close()
    assert status.up, status.as_dict()
    assert status.availability_text().startswith("up (statistics stale: "), status.as_dict()
    assert status.stale[SCHEMA] == BUSY
    assert status.schema_at_head is None  # unknown, not "base"
    # Not ready, and saying why: SQLite's lock stops even the ping, a migration's only the schema.
    assert not report.ready
    failing = [(check.name, check.detail) for check in report.checks if not check.ok]
    assert failing == [BUSY_CHECK[engine_name]], report.as_dict()
    if engine_name == "sqlite":  # nothing it did switched the file to WAL
        assert not any(path.exists() for path in _journal_files(settings))
