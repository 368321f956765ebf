"""Start-up against a database that is late, or never comes: bounded backoff, clear message."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, make_cluster
from testkit.legacy import quirky_legacy_data, write_legacy_file
from testkit.pg_cluster import free_port
from testkit.waiting import wait_until_async

BACKOFF_LINE = re.compile(r"database not ready \(attempt (\d+)\): .*; next try in ([\d.]+) s")
READY_LINE = re.compile(r"database ready after (\d+) attempts")
GAVE_UP = re.compile(r"gave up waiting for the database after (\d+) attempts? in 2 s")


@pytest.mark.timeout(60)
@pytest.mark.postgres
async def test_service_waits_for_a_late_server_with_backoff(
    service_factory: ServiceFactory,
) -> None:
    """The server starts after the service backed off: retries back off, the next one connects."""
    cluster = make_cluster()
    cluster.init()
    try:
        service = service_factory(
            cluster.url("postgres"), db_startup_timeout="20", db_connect_timeout="1"
        )

        async def backed_off() -> bool:
            return len(BACKOFF_LINE.findall(service.log_text())) >= 3

        # Start the server only once the service has visibly backed off a few times.
        await wait_until_async(backed_off, timeout=30, what="three backoff lines")
        await asyncio.to_thread(cluster.start)
        failed_before_accepting = len(BACKOFF_LINE.findall(service.log_text()))
        await asyncio.to_thread(service.wait_ready, 15)
        log = service.log_text()
        waits = [(int(attempt), float(delay)) for attempt, delay in BACKOFF_LINE.findall(log)]
        assert len(waits) >= 3, log
        assert [attempt for attempt, _ in waits] == list(range(1, len(waits) + 1)), log
        delays = [delay for _, delay in waits]
        assert delays[-1] > delays[0] * 2, f"no backoff: {delays}"
        assert max(delays) <= 5 * 1.25  # capped (readiness.backoff_delays maximum, jittered)
        ready = READY_LINE.search(log)
        assert ready is not None, log
        # Once the server accepts, at most the attempt already under way fails: the next connects.
        assert len(waits) <= failed_before_accepting + 1, (failed_before_accepting, log)
        assert int(ready.group(1)) == len(waits) + 1, log
    finally:
        cluster.destroy()


@pytest.mark.timeout(60)
async def test_service_gives_up_after_the_startup_timeout(service_factory: ServiceFactory) -> None:
    """No server at all: the process exits non-zero after DB_STARTUP_TIMEOUT, naming the target."""
    port = free_port()
    service = service_factory(
        f"postgresql://postgres@127.0.0.1:{port}/{APP_DATABASE}",
        db_startup_timeout="2",
        db_connect_timeout="1",
    )
    code = await asyncio.to_thread(service.wait_exit, 30)
    log = service.log_text()
    assert code == 3, log  # DatabaseUnavailable's exit code (cli/errors.py)
    assert "Traceback" not in log, log
    gave_up = GAVE_UP.search(log)
    assert gave_up is not None, log
    # It gave up at the timeout, not later: every failed attempt but the last announced a wait,
    # and the waits it announced (each rounded to 0.01 s) fit in the 2 s it was given.
    delays = [float(delay) for _, delay in BACKOFF_LINE.findall(log)]
    assert len(delays) == int(gave_up.group(1)) - 1, log
    assert sum(delays) <= 2 + 0.005 * len(delays), delays
    assert f"127.0.0.1:{port}" in log and "connection refused" in log


@pytest.mark.timeout(60)
async def test_refused_startup_upgrade_leaves_a_legacy_file_byte_identical(
    service_factory: ServiceFactory, tmp_path: Path
) -> None:
    """Orphans refuse the adoption at start-up: the process exits and the file is untouched."""
    data = quirky_legacy_data()
    data.submissions.append(
        {
            "id": 99,
            "user_id": 404,  # no such user: an orphan, refused by default (migration 0002)
            "text": "orphan",
            "task_type": "TASK_1",
            "word_count": 1,
            "submitted_at": "2024-03-01 00:00:00",
            "processing_status": "COMPLETED",
        }
    )
    path = write_legacy_file(tmp_path / "legacy.db", data)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    service = service_factory(f"sqlite:///{path}")
    code = await asyncio.to_thread(service.wait_exit, 45)
    log = service.log_text()
    assert code == 4, log  # MigrationError's exit code (cli/errors.py)
    assert "orphan" in log and "Traceback" not in log, log
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not path.with_name("legacy.db-wal").exists()


@pytest.mark.timeout(60)
async def test_refused_startup_without_migrations_leaves_a_legacy_file_byte_identical(
    service_factory: ServiceFactory, tmp_path: Path
) -> None:
    """Migrations off and a legacy file: the process exits, the file is untouched (not WAL)."""
    path = write_legacy_file(tmp_path / "legacy.db", quirky_legacy_data())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    service = service_factory(f"sqlite:///{path}", run_migrations_on_startup="false")
    code = await asyncio.to_thread(service.wait_exit, 45)
    log = service.log_text()
    assert code == 4, log  # SchemaNotAtHead's exit code (cli/errors.py)
    assert "is at revision base" in log and "bandwise db upgrade" in log, log
    assert "Traceback" not in log, log
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not path.with_name("legacy.db-wal").exists()
