"""Measure what monitoring costs: per-statement instrumentation and one statistics collection.

Runs the same batch of small statements on an uninstrumented and an instrumented engine
(SQLite file and a throwaway PostgreSQL cluster), alternating rounds so both see the same
machine load, and prints a table with the overhead ratio against the uninstrumented reference.
The best round of each is reported: on a shared machine the minimum is the least noisy
estimate of the intrinsic cost.

    .venv/bin/python benchmarks/monitoring_overhead.py [--statements 1000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.ops.monitoring.metrics import EngineMetrics
from bandwise.ops.monitoring.pg_stats import collect_database_stats

# testkit (test tooling, not installed) lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.pg_cluster import PgCluster


async def _batch(engine: AsyncEngine, statements: int) -> float:
    started = time.perf_counter()
    async with engine.connect() as connection:
        for number in range(statements):
            await connection.execute(text("SELECT CAST(:n AS INTEGER)"), {"n": number})
    return time.perf_counter() - started


async def _measure(url: str, statements: int, rounds: int) -> tuple[float, float, float]:
    settings = load_settings(database_url=url)
    plain, instrumented = create_engine(settings), create_engine(settings)
    EngineMetrics(instrumented, capacity=30)
    try:
        await migrate.upgrade(plain)
        await _batch(plain, 100)
        await _batch(instrumented, 100)
        plain_times, instrumented_times = [], []
        for _ in range(rounds):
            plain_times.append(await _batch(plain, statements))
            instrumented_times.append(await _batch(instrumented, statements))
        collections = []
        for _ in range(rounds):
            started = time.perf_counter()
            stats = await collect_database_stats(instrumented)
            assert stats.up, stats.error
            collections.append(time.perf_counter() - started)
    finally:
        await plain.dispose()
        await instrumented.dispose()
    return min(plain_times), min(instrumented_times), statistics.median(collections)


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite:///{Path(directory) / 'bench.db'}"
        rows.append(("sqlite", *asyncio.run(_measure(sqlite_url, args.statements, args.rounds))))
    cluster = PgCluster()
    cluster.start()
    try:
        pg_url = cluster.create_database("bench")
        rows.append(("postgresql", *asyncio.run(_measure(pg_url, args.statements, args.rounds))))
    finally:
        cluster.destroy()
    print(
        f"{args.statements} statements per round, best of {args.rounds} rounds "
        "(statistics collection: median)"
    )
    print(
        f"{'engine':<11} {'plain µs/stmt':>14} {'instrumented µs/stmt':>21} {'ratio':>6} "
        f"{'stats collection ms':>20}"
    )
    for engine, plain, instrumented, collection in rows:
        per_plain = plain / args.statements * 1e6
        per_instrumented = instrumented / args.statements * 1e6
        print(
            f"{engine:<11} {per_plain:>14.1f} {per_instrumented:>21.1f} "
            f"{instrumented / plain:>6.2f} {collection * 1000:>20.1f}"
        )


if __name__ == "__main__":
    main()
