"""Benchmark: bandwise backup create + verify against raw pg_dump + pg_restore, same database.

Starts a throwaway PostgreSQL cluster, fills a migrated bandwise database to ``--size-mb``
(users, submissions with essay-sized text, assessments), then times in the same run:

* reference: ``pg_dump -Fc`` to a file, then ``pg_restore`` into a new database;
* bandwise: ``create_backup`` (snapshot counts, pg_dump, fsync, sha256, manifest) followed by
  ``verify_backup`` (sha256, ``pg_restore --list``, scratch restore, counts, drop).

Prints a table and the overhead ratio (target ≤ 1.5×).  Usage:
    .venv/bin/python benchmarks/backup.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.ops.backup import create_backup, verify_backup
from bandwise.ops.backup.pgtools import find_pg_tools, libpq_environment

# testkit (test tooling, not installed) lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.pg_cluster import PgCluster

BATCH = 20_000
FILL_SQL = [
    """INSERT INTO users (telegram_id, username, first_name, created_at, is_pro)
       SELECT 1000000 + g, 'user' || g, 'Name ' || g, now(), g % 10 = 0
       FROM generate_series(:start, :stop - 1) AS g WHERE g % 5 = 0""",
    """INSERT INTO submissions
           (user_id, text, task_type, word_count, submitted_at, processing_status)
       SELECT u.id,
              (SELECT string_agg(md5(random()::text || s || g), ' ')
               FROM generate_series(1, 60) AS s)
                  || ' essay ' || g,
              'task_2', 300, now() - (g || ' minutes')::interval, 'completed'
       FROM generate_series(:start, :stop - 1) AS g
       JOIN users AS u ON u.telegram_id = 1000000 + (g / 5) * 5""",
    """INSERT INTO assessments (submission_id, task_achievement_score, coherence_cohesion_score,
                                lexical_resource_score, grammatical_accuracy_score,
                                overall_band_score,
                                detailed_feedback, improvement_suggestions, assessor, assessed_at)
       SELECT s.id, 6.5, 6.0, 7.0, 6.5, 6.5, 'Feedback for essay ' || s.id,
              '["linking words", "paragraphing"]'::jsonb, 'heuristic', now()
       FROM submissions AS s WHERE s.id > :max_submission""",
]


async def fill(url: str, size_mb: int) -> tuple[int, int]:
    """Fill the database at ``url`` to at least ``size_mb`` MiB; return (rows, bytes)."""
    engine = create_engine(load_settings(database_url=url, db_statement_timeout=0), null_pool=True)
    try:
        await migrate.upgrade(engine)
        start, size = 0, 0
        while size < size_mb * 1024 * 1024:
            async with engine.begin() as connection:
                before = (
                    await connection.execute(text("SELECT coalesce(max(id), 0) FROM submissions"))
                ).scalar_one()
                params = {"start": start, "stop": start + BATCH, "max_submission": before}
                for statement in FILL_SQL:
                    await connection.execute(text(statement), params)
            start += BATCH
            async with engine.connect() as connection:
                size = (
                    await connection.execute(text("SELECT pg_database_size(current_database())"))
                ).scalar_one()
            print(f"  filled {start} submissions, {size / 2**20:.0f} MiB", flush=True)
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            await connection.execute(text("VACUUM ANALYZE"))
        return start, int(size)
    finally:
        await engine.dispose()


def timed(function: object, *args: object) -> float:
    """Return the seconds ``function(*args)`` took."""
    started = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="database size to reach (MiB)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds; the best of each side"
    )
    arguments = parser.parse_args()
    cluster = PgCluster(settings={"max_wal_size": "'4GB'", "checkpoint_timeout": "'30min'"})
    cluster.start()
    workdir = Path(tempfile.mkdtemp(prefix="bandwise-backup-bench-"))
    try:
        url = cluster.create_database("bench")
        print(f"filling a database to {arguments.size_mb} MiB ...", flush=True)
        rows, size = asyncio.run(fill(url, arguments.size_mb))
        tools = find_pg_tools()
        env = libpq_environment(cluster.url("bench"), "bench")

        def raw_dump() -> None:
            subprocess.run(
                [tools.pg_dump, "-Fc", "-f", str(workdir / "raw.dump")], env=env, check=True
            )

        def raw_restore() -> None:
            cluster.create_database("raw_restore")
            subprocess.run(
                [
                    tools.pg_restore,
                    "--no-owner",
                    "--exit-on-error",
                    "-d",
                    "raw_restore",
                    str(workdir / "raw.dump"),
                ],
                env=env,
                check=True,
            )

        settings = load_settings(
            database_url=url, backup_dir=workdir / "backups", db_statement_timeout=0
        )

        def raw_cycle() -> tuple[float, float]:
            dump_s, restore_s = timed(raw_dump), timed(raw_restore)
            cluster.drop_database("raw_restore")
            (workdir / "raw.dump").unlink()
            return dump_s, restore_s

        async def ours() -> tuple[float, float, int]:
            engine = create_engine(settings, null_pool=True)
            try:
                started = time.perf_counter()
                manifest = await create_backup(settings, engine)
                created = time.perf_counter() - started
                started = time.perf_counter()
                verified = await verify_backup(settings, engine, manifest.id)
                assert verified.verify_outcome == "passed", verified.verify_detail
                manifest.data_path(settings.backup_dir).unlink()
                return created, time.perf_counter() - started, manifest.size_bytes
            finally:
                await engine.dispose()

        raw_runs: list[tuple[float, float]] = []
        our_runs: list[tuple[float, float]] = []
        archive = 0
        for round_number in range(arguments.rounds):
            # Alternate the order so that neither side always gets the warmer cache.
            order = ("raw", "ours") if round_number % 2 == 0 else ("ours", "raw")
            for side in order:
                if side == "raw":
                    raw_runs.append(raw_cycle())
                else:
                    create_s, verify_s, archive = asyncio.run(ours())
                    our_runs.append((create_s, verify_s))
                print(f"  round {round_number + 1} {side}: done", flush=True)
        raw_dump_s, raw_restore_s = min(raw_runs, key=sum)
        create_s, verify_s = min(our_runs, key=sum)
        raw_total, ours_total = raw_dump_s + raw_restore_s, create_s + verify_s
        print()
        print(
            f"database: {size / 2**20:.0f} MiB, {rows} submissions; "
            f"archive {archive / 2**20:.0f} MiB"
        )
        print(f"{'step':<40} {'seconds':>9}")
        print(f"{'raw pg_dump -Fc':<40} {raw_dump_s:>9.1f}")
        print(f"{'raw pg_restore':<40} {raw_restore_s:>9.1f}")
        print(f"{'raw total':<40} {raw_total:>9.1f}")
        print(f"{'bandwise backup create':<40} {create_s:>9.1f}")
        print(f"{'bandwise backup verify (scratch restore)':<40} {verify_s:>9.1f}")
        print(f"{'bandwise total':<40} {ours_total:>9.1f}")
        print(f"rounds: {arguments.rounds} (order alternated), best round of each side shown")
        print(
            "all rounds raw (dump, restore): " + ", ".join(f"{d:.1f}+{r:.1f}" for d, r in raw_runs)
        )
        print(
            "all rounds bandwise (create, verify): "
            + ", ".join(f"{c:.1f}+{v:.1f}" for c, v in our_runs)
        )
        print(f"overhead ratio (bandwise / raw): {ours_total / raw_total:.2f}x (target <= 1.5x)")
    finally:
        cluster.destroy()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    main()
