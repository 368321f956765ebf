"""Fixtures for fault tests: a private PostgreSQL cluster per test and `bandwise serve` children.

Fault tests stop, kill and restart servers, so each one owns its cluster; the session-wide
cluster of ``tests/conftest.py`` is never touched here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bandwise.devtools.pg_cluster import PgCluster
from bandwise.devtools.service import ServiceProcess

APP_DATABASE = "bandwise"
# synchronous_commit on: an acknowledged commit must survive kill -9 (the default cluster
# turns it off for speed, which would make "no acknowledged submission lost" untestable).
DURABLE = {"synchronous_commit": "on", "max_connections": "60"}


def make_cluster(**settings: str) -> PgCluster:
    """Return a new, not yet started private cluster with durable commits."""
    return PgCluster(settings={**DURABLE, **settings})


@pytest.fixture
def private_cluster() -> Iterator[PgCluster]:
    """Start a cluster only this test uses (it may stop, kill or restart it)."""
    cluster = make_cluster()
    cluster.start()
    cluster.create_database(APP_DATABASE)
    try:
        yield cluster
    finally:
        cluster.destroy()


ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[ServiceFactory]:
    """Return ``make(database_url, **settings)`` starting `bandwise serve` (stopped afterwards)."""
    started: list[ServiceProcess] = []

    def make(database_url: str, **settings: str) -> ServiceProcess:
        env = {
            "DATABASE_URL": database_url,
            "DAILY_SUBMISSION_LIMIT": "100000",
            "DB_STARTUP_TIMEOUT": "20",
            "DB_CONNECT_TIMEOUT": "2",
            "DB_STATEMENT_TIMEOUT": "5",
            "MAINTENANCE_FLAG_PATH": str(tmp_path / f"maintenance-{len(started)}.flag"),
            **{key.upper(): str(value) for key, value in settings.items()},
        }
        service = ServiceProcess(env, log_path=tmp_path / f"service-{len(started)}.log")
        started.append(service)
        return service.start()

    yield make
    for service in started:
        service.stop()


async def wait_ready_async(base_url: str, bound: float) -> float:
    """Poll /health/ready until 200; return the seconds it took (raise after ``bound``)."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() - started < bound:
            try:
                if (await client.get(f"{base_url}/health/ready")).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.02)
    raise AssertionError(f"service not ready within {bound} s")


def completed_submission_ids(cluster: PgCluster, database: str = APP_DATABASE) -> set[int]:
    """Return the ids of submissions stored as completed with an assessment (server side)."""
    out = cluster.psql(
        "SELECT s.id FROM submissions s JOIN assessments a ON a.submission_id = s.id "
        "WHERE s.processing_status = 'completed'",
        database,
    )
    return {int(line) for line in out.split()}
