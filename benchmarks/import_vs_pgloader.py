"""Benchmark: bandwise import-sqlite against pgloader and raw COPY on the same legacy file.

Generates a seeded legacy SQLite file, starts a throwaway PostgreSQL cluster, and loads the
file into fresh databases with (1) `bandwise db import-sqlite` (conversion + verification
included), (2) pgloader with `prefetch rows = 1000` (stock options run out of heap from
about 10,000 users; add --pgloader-stock to try them), (3) raw COPY of ready CSV files via
psql `\\copy` into untyped tables (the limit: no conversion, no constraints, no checks).
Prints wall time, rows/s, MB/s, peak RSS and the ratios.

    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit.legacy import write_generated_legacy_file  # noqa: E402
from testkit.pg_cluster import PgCluster  # noqa: E402

TABLES = ("users", "submissions", "rate_limits", "assessments")


@dataclass
class Run:
    """One tool's measurement."""

    tool: str
    seconds: float
    rows: int
    peak_rss_mb: float
    ok: bool
    note: str = ""


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Run ``command``; return (seconds, peak RSS MB of the process tree's largest, rc, output)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), text


def _count(cluster: PgCluster, database: str, schema: str = "public") -> int:
    total = 0
    for table in TABLES:
        total += int(cluster.psql(f'SELECT count(*) FROM "{schema}"."{table}"', database))
    return total


def run_bandwise(cluster: PgCluster, source: Path, report_path: Path, *, worker: bool) -> Run:
    """Import with bandwise (one transaction, verified); ``worker``: with --worker-process."""
    database = "bench_bandwise_worker" if worker else "bench_bandwise"
    cluster.create_database(database)
    command = [
        str(ROOT / ".venv" / "bin" / "bandwise"),
        "db",
        "import-sqlite",
        str(source),
        "--target",
        cluster.url(database),
        "--report",
        str(report_path),
        *(["--worker-process"] if worker else []),
    ]
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    seconds, rss, code, output = _timed(command, env)
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    rows = sum(t["source_rows"] for t in report.get("tables", {}).values())
    ok = code == 0 and report.get("verified") is True
    note = "verified" if ok else output[-300:].replace("\n", " ")
    worker_rss = float(report.get("timings", {}).get("worker_peak_rss_mb", 0.0))
    if worker:  # two processes: their peaks added (wait4 would show only the larger one)
        note += f"; RSS = {rss:.0f} importer + {worker_rss:.0f} worker"
        rss += worker_rss
    name = "bandwise import-sqlite --worker-process" if worker else "bandwise import-sqlite"
    return Run(name, seconds, rows, rss, ok, note)


def run_pgloader(cluster: PgCluster, source: Path, rows: int, *, stock: bool) -> Run:
    """Load with pgloader (commits batch by batch; no verification)."""
    if shutil.which("pgloader") is None:
        raise SystemExit("pgloader is missing: run scripts/ensure-benchmark-tools.sh")
    database = "bench_pgloader_stock" if stock else "bench_pgloader"
    cluster.create_database(database)
    target = cluster.url(database, driver="postgresql")
    command = ["pgloader"] if stock else ["pgloader", "--with", "prefetch rows = 1000"]
    seconds, rss, code, output = _timed([*command, f"sqlite://{source}", target])
    loaded = 0
    with contextlib.suppress(RuntimeError):
        loaded = _count(cluster, database)
    name = "pgloader (stock)" if stock else "pgloader (prefetch rows = 1000)"
    ok = code == 0 and loaded == rows
    note = "" if ok else f"exit {code}, {loaded}/{rows} rows left in the target"
    if "Heap exhausted" in output:
        note = "Heap exhausted; " + note
    return Run(name, seconds, loaded, rss, ok, note)


def run_raw_copy(cluster: PgCluster, source: Path, scratch: Path) -> Run:
    """COPY ready CSV files into untyped tables: no conversion, constraints or checks."""
    cluster.create_database("bench_copy")
    connection = sqlite3.connect(source)
    files: dict[str, Path] = {}
    for table in TABLES:
        columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
        cluster.psql(
            f'CREATE TABLE "{table}" ({", ".join(f"{c} text" for c in columns)})', "bench_copy"
        )
        files[table] = scratch / f"{table}.csv"
        with files[table].open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(connection.execute(f'SELECT * FROM "{table}"'))
    connection.close()
    script = "".join(f"\\copy \"{t}\" FROM '{files[t]}' WITH (FORMAT csv)\n" for t in TABLES)
    script_path = scratch / "copy.sql"
    script_path.write_text(script)
    seconds, rss, code, output = _timed(
        [
            str(cluster.bindir / "psql"),
            "-h",
            cluster.host,
            "-p",
            str(cluster.port),
            "-U",
            cluster.user,
            "-d",
            "bench_copy",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            str(script_path),
        ]
    )
    rows = _count(cluster, "bench_copy")
    return Run(
        "raw COPY of ready CSV (psql \\copy)",
        seconds,
        rows,
        rss,
        code == 0,
        "" if code == 0 else output[-300:],
    )


def main() -> None:
    """Generate, load with each tool, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--pgloader-stock", action="store_true", help="also run stock pgloader")
    parser.add_argument("--skip-pgloader", action="store_true")
    parser.add_argument(
        "--worker-process", action="store_true", help="also run bandwise with --worker-process"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bandwise-bench-", dir=args.workdir))
    cluster = PgCluster()
    try:
        source = scratch / "legacy.db"
        started = time.perf_counter()
        counts = write_generated_legacy_file(source, args.users, seed=args.seed)
        rows = sum(counts.values())
        megabytes = source.stat().st_size / 1e6
        print(
            f"generated {source.name}: {args.users} users, {rows} rows, {megabytes:.0f} MB "
            f"in {time.perf_counter() - started:.0f} s ({counts})",
            flush=True,
        )
        cluster.start()
        runs = [run_bandwise(cluster, source, scratch / "report.json", worker=False)]
        print(f"  {runs[-1]}", flush=True)
        if args.worker_process:
            runs.append(run_bandwise(cluster, source, scratch / "report-worker.json", worker=True))
            print(f"  {runs[-1]}", flush=True)
        if not args.skip_pgloader:
            runs.append(run_pgloader(cluster, source, rows, stock=False))
            print(f"  {runs[-1]}", flush=True)
            if args.pgloader_stock:
                runs.append(run_pgloader(cluster, source, rows, stock=True))
                print(f"  {runs[-1]}", flush=True)
        runs.append(run_raw_copy(cluster, source, scratch))
        print(f"  {runs[-1]}", flush=True)

        print()
        print("| tool | wall s | rows | rows/s | MB/s | peak RSS MB | result |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for run in runs:
            print(
                f"| {run.tool} | {run.seconds:.1f} | {run.rows} | {run.rows / run.seconds:,.0f} "
                f"| {megabytes / run.seconds:.1f} | {run.peak_rss_mb:.0f} | "
                f"{'ok' if run.ok else 'FAILED'} {run.note} |"
            )
        for ours in (run for run in runs if run.tool.startswith("bandwise")):
            for other in (run for run in runs if not run.tool.startswith("bandwise")):
                if other.ok:
                    ratio = (ours.rows / ours.seconds) / (other.rows / other.seconds)
                    print(f"{ours.tool} rows/s ÷ {other.tool}: {ratio:.2f}×")
        report = json.loads((scratch / "report.json").read_text())
        print("bandwise timings:", {k: round(v, 1) for k, v in report["timings"].items()})
    finally:
        cluster.destroy()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
