"""Measure how soon the service answers again after PostgreSQL faults, and refuses when full.

One private durable cluster and one `bandwise serve` process. Rounds of: a server restart and
a `kill -9` of the server (seconds from the server accepting connections again to the
service's first 200 from /health/ready), and pool exhaustion (seconds until a request queued
for the one pooled connection, held behind a table lock, is refused with 503). The references
are measured in the same run: the service's own cold start to ready (a restart of the server
should cost far less than restarting the service), and for the refusal DB_POOL_TIMEOUT.

    flock /work/bench.lock .venv/bin/python benchmarks/fault_recovery.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# testkit (test tooling, not installed) lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.faults import APP_DATABASE, make_cluster, wait_ready_async
from testkit.load import essay_for
from testkit.locks import lock_held
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess

POOL_TIMEOUT = 0.5
QUEUED = 4  # requests queued behind the one stuck on the lock


def _service(cluster: PgCluster, **settings: str) -> ServiceProcess:
    env = {"DATABASE_URL": cluster.url(APP_DATABASE), "DAILY_SUBMISSION_LIMIT": "100000"}
    return ServiceProcess({**env, **{key.upper(): value for key, value in settings.items()}})


async def _recovery(cluster: PgCluster, base_url: str, fault: Callable[[], None]) -> float:
    await asyncio.to_thread(fault)
    await asyncio.to_thread(cluster.start)  # returns once it accepts connections
    return await wait_ready_async(base_url, bound=60)


async def _refusals(cluster: PgCluster, base_url: str, round_: int) -> list[float]:
    async def submit(client: httpx.AsyncClient, index: int) -> tuple[int, float]:
        started = time.monotonic()
        response = await client.post(
            "/api/v1/submissions",
            json={"telegram_id": 10_000 * round_ + index, "text": essay_for(index, round_)},
        )
        return response.status_code, time.monotonic() - started

    lock = "LOCK TABLE rate_limits IN ACCESS EXCLUSIVE MODE"
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        async with lock_held(cluster.url(APP_DATABASE), lock):
            pending = {asyncio.create_task(submit(client, i)) for i in range(QUEUED + 1)}
            refused: list[float] = []
            while len(refused) < QUEUED:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    code, seconds = task.result()
                    assert code == 503, code
                    refused.append(seconds)
        await asyncio.gather(*pending)
    return refused


def _row(name: str, values: list[float], reference: float) -> str:
    median = statistics.median(values)
    return (
        f"{name:<34} {len(values):>3} {median:>9.3f} {max(values):>9.3f} "
        f"{reference:>10.3f} {median / reference:>7.2f}"
    )


async def _measure(cluster: PgCluster, rounds: int) -> list[str]:
    cold: list[float] = []
    restart: list[float] = []
    killed: list[float] = []
    for _ in range(rounds):
        with _service(cluster) as service:
            cold.append(await asyncio.to_thread(service.wait_ready, 60))
            restart.append(await _recovery(cluster, service.base_url, cluster.stop))
            killed.append(await _recovery(cluster, service.base_url, cluster.kill))
    refused: list[float] = []
    pool = {"db_pool_size": "1", "db_max_overflow": "0", "db_pool_timeout": str(POOL_TIMEOUT)}
    with _service(cluster, db_statement_timeout="0", **pool) as service:
        await asyncio.to_thread(service.wait_ready, 60)
        for round_ in range(1, rounds + 1):
            refused += await _refusals(cluster, service.base_url, round_)
    reference = statistics.median(cold)
    return [
        _row("service cold start to ready", cold, reference),
        _row("server restart: accepting → ready", restart, reference),
        _row("server kill -9: accepting → ready", killed, reference),
        _row("pool exhausted: request → 503", refused, POOL_TIMEOUT),
    ]


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cluster = make_cluster()
    cluster.start()
    try:
        cluster.create_database(APP_DATABASE)
        rows = asyncio.run(_measure(cluster, args.rounds))
    finally:
        cluster.destroy()
    print(
        "seconds; reference: the service's cold start (median, same run), "
        f"for the 503 DB_POOL_TIMEOUT = {POOL_TIMEOUT:g} s"
    )
    print(f"{'measured':<34} {'n':>3} {'median':>9} {'max':>9} {'reference':>10} {'ratio':>7}")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
