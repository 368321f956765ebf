"""Stop a private PostgreSQL server under a running service: readiness 503, alert, resolution.

Uses its own ``PgCluster`` (never the session's, which every other test shares).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bandwise.api.app import create_app
from bandwise.config import load_settings
from bandwise.ops.monitoring.rules import DEFAULT_RULES
from bandwise.ops.monitoring.service import start_monitoring
from bandwise.runtime import start_runtime
from testkit.http_receiver import http_receiver
from testkit.pg_cluster import PgCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def private_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _states(bodies: list[dict[str, object]]) -> list[str]:
    return [f"{body['alert']}:{body['status']}" for body in bodies]


async def test_database_down_then_back(private_cluster: PgCluster, tmp_path: Path) -> None:
    url = private_cluster.create_database("bandwise")
    with http_receiver() as receiver:
        settings = load_settings(
            database_url=url,
            db_stats_interval=0.3,
            alert_webhook_url=f"{receiver.url}/hook",
            db_startup_timeout=10,
            db_connect_timeout=1,
            backup_dir=tmp_path / "backups",
            maintenance_flag_path=tmp_path / "maintenance.flag",
        )
        runtime = await start_runtime(settings)
        # The shipped rules hold DatabaseDown for a minute; the test does not wait that long.
        rules = tuple(replace(rule, for_seconds=0.0) for rule in DEFAULT_RULES)
        monitoring = start_monitoring(runtime, rules)
        app = create_app(settings, runtime)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://bandwise") as client:
                assert (await client.get("/health/ready")).status_code == 200
                await _until(lambda: monitoring.alerter.is_leader)
                private_cluster.stop()
                response = await client.get("/health/ready")
                assert response.status_code == 503
                checks = response.json()["checks"]
                assert checks["database"]["ok"] is False
                # Bounded: the probe named why the one ping failed (refused, or no answer within
                # READY_TIMEOUT) and stopped there, with no further query to wait on.
                assert checks["database"]["detail"].startswith("unreachable: "), checks
                assert "schema" not in checks and "pool" not in checks, checks
                live = await client.get("/health/live")
                assert live.status_code == 200

                bodies = await _wait(receiver, "BandwiseDatabaseDown:firing")
                assert bodies[-1]["severity"] == "critical"
                metrics = (await client.get("/metrics")).text
                assert "bandwise_db_up 0.0" in metrics

                private_cluster.start()
                bodies = await _wait(receiver, "BandwiseDatabaseDown:resolved")
                assert _states(bodies).count("BandwiseDatabaseDown:firing") == 1
                assert (await client.get("/health/ready")).status_code == 200
        finally:
            await monitoring.stop()
            await runtime.close()


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _wait(receiver: object, expected: str, timeout: float = 20.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = receiver.bodies()  # type: ignore[attr-defined]
        if expected in _states(bodies):
            return list(bodies)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {expected} within {timeout} s; got {receiver.bodies()}")  # type: ignore[attr-defined]
