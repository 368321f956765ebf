"""Start-up against a database that is late, or never comes: bounded backoff, clear message."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path

import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, make_cluster
from testkit.legacy import quirky_legacy_data, write_legacy_file
from testkit.pg_cluster import free_port

BACKOFF_LINE = re.compile(r"database not ready \(attempt (\d+)\): .*; next try in ([\d.]+) s")


@pytest.mark.timeout(60)
@pytest.mark.postgres
async def test_service_waits_for_a_late_server_with_backoff(
    service_factory: ServiceFactory,
) -> None:
    """The server starts after the service backed off: retries back off, then it is soon ready."""
    cluster = make_cluster()
    cluster.init()
    try:
        service = service_factory(
            cluster.url("postgres"), db_startup_timeout="20", db_connect_timeout="1"
        )
        # Start the server only once the service has visibly backed off a few times (a fixed
        # sleep races with a slow interpreter start-up on a loaded machine).
        deadline = time.monotonic() + 30
        while len(BACKOFF_LINE.findall(service.log_text())) < 3:
            assert time.monotonic() < deadline, service.log_text()
            await asyncio.sleep(0.1)
        await asyncio.to_thread(cluster.start)
        accepted = time.monotonic()
        await asyncio.to_thread(service.wait_ready, 15)
        late_by = time.monotonic() - accepted
        log = service.log_text()
        waits = [(int(attempt), float(delay)) for attempt, delay in BACKOFF_LINE.findall(log)]
        assert len(waits) >= 3, log
        delays = [delay for _, delay in waits]
        assert delays[-1] > delays[0] * 2, f"no backoff: {delays}"
        assert max(delays) <= 5 * 1.25  # capped (readiness.backoff_delays maximum, jittered)
        assert "database ready after" in log
        # The next attempt after the server came up is at most one (capped) backoff step away.
        assert late_by < delays[-1] * 2 + 1.5, (late_by, delays)
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
    started = time.monotonic()
    code = await asyncio.to_thread(service.wait_exit, 30)
    elapsed = time.monotonic() - started
    log = service.log_text()
    assert code == 3, log  # DatabaseUnavailable's exit code (cli/errors.py)
    assert "Traceback" not in log, log
    assert elapsed < 2 + 8, f"took {elapsed:.1f} s to give up"  # timeout + interpreter start-up
    assert "gave up waiting for the database" in log, log
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
