"""Fault-test helpers: private durable clusters, `bandwise serve` children, locks, load bursts."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

import httpx

from testkit.load import essay_for
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess

APP_DATABASE = "bandwise"
# synchronous_commit on: an acknowledged commit must survive kill -9 (the default cluster
# turns it off for speed, which would make "no acknowledged submission lost" untestable).
DURABLE = {"synchronous_commit": "on", "max_connections": "60"}


def make_cluster(**settings: str) -> PgCluster:
    """Return a new, not yet started private cluster with durable commits."""
    return PgCluster(settings={**DURABLE, **settings})


ServiceFactory = Callable[..., ServiceProcess]


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


async def submit_many(
    base_url: str, count: int, telegram_id: int = 42
) -> list[tuple[int, dict[str, object], float]]:
    """Submit ``count`` essays concurrently over HTTP; return (status, body, seconds) each."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one(index: int) -> tuple[int, dict[str, object], float]:
            started = time.monotonic()
            response = await client.post(
                "/api/v1/submissions",
                json={"telegram_id": telegram_id + index, "text": essay_for(index, 1)},
            )
            return response.status_code, response.json(), time.monotonic() - started

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def hold_lock(cluster: PgCluster, table: str, seconds: float) -> subprocess.Popen[bytes]:
    """Hold an exclusive lock on ``table`` for ``seconds`` in a psql session; return it."""
    process = subprocess.Popen(
        [
            *cluster.psql_command(APP_DATABASE),
            "-q",
            "-c",
            f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; "
            f"SELECT pg_sleep({seconds}); COMMIT;",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        granted = cluster.psql(
            f"SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            f"WHERE c.relname = '{table}' AND l.mode = 'AccessExclusiveLock' AND l.granted",
            APP_DATABASE,
        )
        if granted == "1":
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"could not lock {table}")
