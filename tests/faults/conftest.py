"""Fixtures for fault tests: a private PostgreSQL cluster per test and `bandwise serve` children.

Fault tests stop, kill and restart servers, so each one owns its cluster; the session-wide
cluster of ``tests/conftest.py`` is never touched here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.faults import APP_DATABASE, ServiceFactory, make_cluster
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess


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
