"""Benchmark: bandwise import-sqlite against tuned pgloader and raw COPY, per legacy data shape.

For each data shape (``testkit.legacy_shapes``: rate-limit density, counters to merge, text
length, share of rows needing the careful path, NUL bytes and odd spellings) and each size,
generates a seeded legacy SQLite file written the way the legacy bot wrote it, starts a
throwaway PostgreSQL cluster, and loads the file into fresh databases with (1) `bandwise db
import-sqlite` (conversion + verification included), (2) pgloader with `prefetch rows = 1000`
(stock options run out of heap from about 10,000 users; add --pgloader-stock to try them),
(3) raw COPY of ready CSV files via psql `\\copy` into text tables keyed by id (the limit: no
conversion, no checks). Prints wall time, rows/s, MB/s, peak RSS, CPU (the tool's processes
and the server's, ``server_cpu``) and the ratios per shape and size, then one summary table.
Its last column is the ceiling bandwise's CPU sets: that CPU spread perfectly over every core
still takes ``CPU ÷ cores`` seconds, so ``pgloader s ÷ that`` is the highest ratio the import
could reach without doing less work.

pgloader is a Debian package: `make bench-tools` (or scripts/ensure-benchmark-tools.sh)
installs it; without it, pass --skip-pgloader.

    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000
    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000 100000 --shape issue15
    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000 --repeat 3   # medians
"""

from __future__ import annotations

import argparse
import compileall
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_cpu import cluster_cpu_seconds, wait_for_backends_to_end  # noqa: E402
from benchmarks.verified_floor import Floor, measure_floor, measure_parallel_floor  # noqa: E402
from testkit.legacy_shapes import SHAPES, write_shaped_legacy_file  # noqa: E402
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
    repetition: int = 0
    cpu_seconds: float = 0.0  # the tool's own processes (user + system)
    server_cpu_seconds: float = 0.0  # the PostgreSQL cluster's processes during the run

    @property
    def total_cpu_seconds(self) -> float:
        """Return the CPU of the tool and of the server together."""
        return self.cpu_seconds + self.server_cpu_seconds


GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True)
class Timed:
    """What one tool's run took: wall seconds, peak RSS, CPU of its own and the server's."""

    seconds: float
    peak_rss_mb: float
    code: int
    output: str
    cpu_seconds: float
    server_cpu_seconds: float


def _timed(
    cluster: PgCluster, database: str, command: list[str], env: dict[str, str] | None = None
) -> Timed:
    """Run ``command`` against ``database``; return its wall time, peak RSS and CPU.

    The peak comes from GNU time, which starts the command itself: Linux counts into a
    child's peak the memory of the process it was forked from, so ``wait4`` on a child of
    this (much larger) process would report this process's size for a smaller tool. The
    CPU of GNU time's process tree (the tool) comes from ``wait4``; the server's from its
    processes (``server_cpu``), read again once the tool's backends have ended.
    """
    postmaster = cluster.pid()
    assert postmaster is not None, "the benchmark's cluster is not running"
    server_before = cluster_cpu_seconds(postmaster)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output, tempfile.NamedTemporaryFile("r") as peak:
        process = subprocess.Popen(
            [str(GNU_TIME), "-f", "%M", "-o", peak.name, *command],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
        kibibytes = peak.read().strip().splitlines()[-1]
    wait_for_backends_to_end(postmaster, database)
    return Timed(
        seconds,
        int(kibibytes) / 1024,
        os.waitstatus_to_exitcode(status),
        text,
        usage.ru_utime + usage.ru_stime,
        cluster_cpu_seconds(postmaster) - server_before,
    )


def _count(cluster: PgCluster, database: str, schema: str = "public") -> int:
    total = 0
    for table in TABLES:
        total += int(cluster.psql(f'SELECT count(*) FROM "{schema}"."{table}"', database))
    return total


def _fresh_database(cluster: PgCluster, name: str) -> str:
    """Create database ``name`` empty (dropping a previous repetition's); return its name."""
    cluster.psql(f'DROP DATABASE IF EXISTS "{name}"')
    cluster.create_database(name)
    return name


def run_bandwise(cluster: PgCluster, source: Path, report_path: Path, *, worker: bool) -> Run:
    """Import with bandwise (one transaction, verified); ``worker``: with --worker-process."""
    database = _fresh_database(cluster, "bench_bandwise_worker" if worker else "bench_bandwise")
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
    timed = _timed(cluster, database, command, env)
    seconds, rss, code, output = timed.seconds, timed.peak_rss_mb, timed.code, timed.output
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    rows = sum(t["source_rows"] for t in report.get("tables", {}).values())
    ok = code == 0 and report.get("verified") is True
    note = "verified" if ok else output[-300:].replace("\n", " ")
    worker_rss = float(report.get("timings", {}).get("worker_peak_rss_mb", 0.0))
    if worker:  # two processes: their peaks added (wait4 would show only the larger one)
        note += f"; RSS = {rss:.0f} importer + {worker_rss:.0f} worker"
        rss += worker_rss
    name = "bandwise import-sqlite --worker-process" if worker else "bandwise import-sqlite"
    return Run(name, seconds, rows, rss, ok, note, 0, timed.cpu_seconds, timed.server_cpu_seconds)


def run_pgloader(cluster: PgCluster, source: Path, rows: int, *, stock: bool) -> Run:
    """Load with pgloader (commits batch by batch; no verification)."""
    if shutil.which("pgloader") is None:
        raise SystemExit(
            "pgloader is missing: install it with `make bench-tools` (Debian package pgloader, "
            "via scripts/ensure-benchmark-tools.sh), or pass --skip-pgloader"
        )
    database = _fresh_database(cluster, "bench_pgloader_stock" if stock else "bench_pgloader")
    target = cluster.url(database, driver="postgresql")
    command = ["pgloader"] if stock else ["pgloader", "--with", "prefetch rows = 1000"]
    timed = _timed(cluster, database, [*command, f"sqlite://{source}", target])
    seconds, rss, code, output = timed.seconds, timed.peak_rss_mb, timed.code, timed.output
    loaded = 0
    with contextlib.suppress(RuntimeError):
        loaded = _count(cluster, database)
    name = "pgloader (stock)" if stock else "pgloader (prefetch rows = 1000)"
    # Its rate counts every source row it went through: on a shape with values PostgreSQL
    # refuses (NUL bytes, epoch timestamps) it drops those rows and carries on.
    ok = code == 0 and loaded > 0
    note = "" if loaded == rows else f"exit {code}, only {loaded}/{rows} rows stored"
    if "Heap exhausted" in output:
        note = "Heap exhausted; " + note
    return Run(name, seconds, rows, rss, ok, note, 0, timed.cpu_seconds, timed.server_cpu_seconds)


def _ready(row: tuple[Any, ...]) -> list[Any]:
    """Return a row as a ready CSV holds it: NUL bytes gone (COPY refuses them)."""
    return [value.replace("\x00", "") if isinstance(value, str) else value for value in row]


@dataclass(frozen=True)
class ReadyCsv:
    """The source as ready CSV files, and the text tables keyed by id that take them."""

    script: Path
    create_tables: tuple[str, ...]


def ready_csv(source: Path, scratch: Path) -> ReadyCsv:
    """Write each table of ``source`` as a ready CSV file (once per shape and size)."""
    connection = sqlite3.connect(source)
    files: dict[str, Path] = {}
    creates: list[str] = []
    for table in TABLES:
        columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
        fields = ", ".join("id bigint PRIMARY KEY" if c == "id" else f"{c} text" for c in columns)
        creates.append(f'CREATE TABLE "{table}" ({fields})')
        files[table] = scratch / f"{table}.csv"
        with files[table].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                writer.writerow(_ready(row))
    connection.close()
    script = "".join(f"\\copy \"{t}\" FROM '{files[t]}' WITH (FORMAT csv)\n" for t in TABLES)
    script_path = scratch / "copy.sql"
    script_path.write_text(script)
    return ReadyCsv(script_path, tuple(creates))


def run_raw_copy(cluster: PgCluster, ready: ReadyCsv) -> Run:
    """COPY ready CSV files into text tables keyed by id: no conversion or checks."""
    database = _fresh_database(cluster, "bench_copy")
    for create in ready.create_tables:
        cluster.psql(create, database)
    script_path = ready.script
    timed = _timed(
        cluster,
        database,
        [
            str(cluster.bindir / "psql"),
            "-h",
            cluster.host,
            "-p",
            str(cluster.port),
            "-U",
            cluster.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            str(script_path),
        ],
    )
    rows = _count(cluster, database)
    return Run(
        "raw COPY of ready CSV (psql \\copy)",
        timed.seconds,
        rows,
        timed.peak_rss_mb,
        timed.code == 0,
        "" if timed.code == 0 else timed.output[-300:],
        0,
        timed.cpu_seconds,
        timed.server_cpu_seconds,
    )


@dataclass
class Measured:
    """One shape and size: the file and every tool's run."""

    shape: str
    users: int
    rows: int
    megabytes: float
    runs: list[Run]
    timings: dict[str, float]
    floor: Floor | None = None
    parallel_floor: Floor | None = None  # the same work on two connections at once

    def seconds(self, prefix: str) -> float | None:
        """Return the wall seconds of the first successful run whose tool starts with ``prefix``."""
        for run in self.runs:
            if run.tool.startswith(prefix) and run.ok:
                return run.seconds
        return None

    def rate(self, prefix: str) -> float | None:
        """Return the rows/s of the first successful run whose tool starts with ``prefix``."""
        for run in self.runs:
            if run.tool.startswith(prefix) and run.ok:
                return run.rows / run.seconds
        return None


def measure(shape: str, users: int, args: argparse.Namespace) -> Measured:
    """Generate one file, load it with every tool into a fresh cluster, print the table."""
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bandwise-bench-", dir=args.workdir))
    cluster = PgCluster()
    try:
        source = scratch / "legacy.db"
        started = time.perf_counter()
        counts = write_shaped_legacy_file(source, users, SHAPES[shape], seed=args.seed)
        rows = sum(counts.values())
        megabytes = source.stat().st_size / 1e6
        print(
            f"\n## shape {shape} ({SHAPES[shape].description}), {users} users\n"
            f"generated {rows} rows, {megabytes:.0f} MB in {time.perf_counter() - started:.0f} s "
            f"({counts}); load average {_load()}",
            flush=True,
        )
        cluster.start()
        # No autovacuum: it would analyse one tool's tables during the next tool's run, and the
        # server CPU read for that run would include it.
        cluster.psql("ALTER SYSTEM SET autovacuum = off")
        cluster.psql("SELECT pg_reload_conf()")
        ready = ready_csv(source, scratch)
        tools: list[Callable[[int], Run]] = [
            lambda i: run_bandwise(cluster, source, scratch / f"report-{i}.json", worker=False)
        ]
        if args.worker_process:
            tools.append(
                lambda i: run_bandwise(cluster, source, scratch / f"worker-{i}.json", worker=True)
            )
        if not args.skip_pgloader:
            tools.append(lambda i: run_pgloader(cluster, source, rows, stock=False))
            if args.pgloader_stock:
                tools.append(lambda i: run_pgloader(cluster, source, rows, stock=True))
        tools.append(lambda i: run_raw_copy(cluster, ready))
        # Repetitions interleave the tools, so a busier spell of the machine falls on all.
        repeated: list[list[Run]] = [[] for _ in tools]
        for repetition in range(args.repeat):
            for tool, done in zip(tools, repeated, strict=True):
                done.append(tool(repetition))
                print(f"  {done[-1]}", flush=True)
        runs = [_median(done) for done in repeated]
        floor = _floor(cluster, scratch, args.repeat) if args.floor else None
        parallel = _parallel_floor(cluster, scratch, args.repeat) if args.floor else None
        report_path = scratch / f"report-{runs[0].repetition}.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    finally:
        cluster.destroy()
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(
        "| tool | wall s | rows | rows/s | MB/s | peak RSS MiB "
        "| CPU s (tool + server = total) | result |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        print(
            f"| {run.tool} | {run.seconds:.1f} | {run.rows} | {run.rows / run.seconds:,.0f} "
            f"| {megabytes / run.seconds:.1f} | {run.peak_rss_mb:.0f} | {_cpu_text(run)} | "
            f"{'ok' if run.ok else 'FAILED'} {run.note} |"
        )
    for ours in (run for run in runs if run.tool.startswith("bandwise")):
        for other in (run for run in runs if not run.tool.startswith("bandwise")):
            if other.ok:
                ratio = (ours.rows / ours.seconds) / (other.rows / other.seconds)
                print(f"{ours.tool} rows/s ÷ {other.tool}: {ratio:.2f}×")
    timings = {k: round(v, 2) for k, v in report.get("timings", {}).items()}
    print("bandwise timings:", timings)
    print("bandwise rows out:", {t: f["imported"] for t, f in report.get("tables", {}).items()})
    if floor is not None:
        print(
            f"verified-import floor (PostgreSQL's share alone, {floor.total_seconds:.2f} s): "
            f"COPY {floor.copy_seconds:.2f} s, constraints {floor.constraints_seconds:.2f} s, "
            f"checksum scans {floor.checksum_seconds:.2f} s"
        )
    if parallel is not None:
        print(
            f"the same on two connections ({parallel.total_seconds:.2f} s): "
            f"COPY and own indexes {parallel.copy_seconds:.2f} s, foreign keys "
            f"{parallel.constraints_seconds:.2f} s, "
            f"checksum scans {parallel.checksum_seconds:.2f} s"
        )
    return Measured(shape, users, rows, megabytes, runs, timings, floor, parallel)


def _floor(cluster: PgCluster, scratch: Path, repeat: int) -> Floor:
    """Measure the verified-import floor on the rows bandwise's last run imported."""
    _fresh_database(cluster, "bench_floor")
    cluster.psql('DROP DATABASE "bench_floor"')
    cluster.create_database("bench_floor", template="bench_bandwise")
    imported, target = (
        cluster.url(d, driver="postgresql") for d in ("bench_bandwise", "bench_floor")
    )
    floors = sorted(
        (measure_floor(imported, target, scratch) for _ in range(repeat)),
        key=lambda floor: floor.total_seconds,
    )
    return floors[len(floors) // 2]


def _parallel_floor(cluster: PgCluster, scratch: Path, repeat: int) -> Floor:
    """Measure the two-connection floor, each repetition on a fresh copy of the schema."""
    imported = cluster.url("bench_bandwise", driver="postgresql")
    floors: list[Floor] = []
    for _ in range(repeat):
        _fresh_database(cluster, "bench_floor")
        cluster.psql('DROP DATABASE "bench_floor"')
        cluster.create_database("bench_floor", template="bench_bandwise")
        target = cluster.url("bench_floor", driver="postgresql")
        floors.append(measure_parallel_floor(imported, target, scratch))
    floors.sort(key=lambda floor: floor.total_seconds)
    return floors[len(floors) // 2]


def _median(runs: list[Run]) -> Run:
    """Return the run of median wall time (the slower middle one of an even count)."""
    ordered = sorted(range(len(runs)), key=lambda i: runs[i].seconds)
    index = ordered[len(ordered) // 2]
    chosen = runs[index]
    if len(runs) > 1:
        spread = ", ".join(f"{run.seconds:.1f}" for run in runs)
        chosen = replace(chosen, note=f"{chosen.note} median of {len(runs)} ({spread} s)".strip())
    return replace(chosen, repetition=index)


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _show(value: float | None) -> str:
    return f"{value:,.0f}" if value else "—"


def _ratio(ours: float | None, other: float | None) -> str:
    return f"{ours / other:.2f}×" if ours and other else "—"


def _cpu_text(run: Run) -> str:
    return f"{run.cpu_seconds:.1f} + {run.server_cpu_seconds:.1f} = {run.total_cpu_seconds:.1f}"


def _cores() -> int:
    """Return the cores this process (and the tools it starts) may run on."""
    return len(os.sched_getaffinity(0))


def _cpu_bound(measured: Measured) -> str:
    """Return bandwise's CPU (its process and the server) and the ratio ceiling it sets.

    Spread perfectly over every core, that CPU still takes ``total ÷ cores`` seconds: the
    highest ratio to pgloader this import could reach without doing less work.
    """
    ours = next((r for r in measured.runs if r.tool == "bandwise import-sqlite" and r.ok), None)
    loader = measured.seconds("pgloader")
    if ours is None:
        return "— | —"
    least = ours.total_cpu_seconds / _cores()
    ceiling = f"{loader / least:.2f}×" if loader and least else "—"
    return f"{ours.cpu_seconds:.1f} + {ours.server_cpu_seconds:.1f} | {ceiling}"


def _floor_text(measured: Measured) -> str:
    """Return the floors' seconds and the ratio ceilings they set (— when not measured)."""
    floors = [f for f in (measured.floor, measured.parallel_floor) if f is not None]
    if not floors:
        return "— | —"
    loader = measured.seconds("pgloader")
    seconds = " / ".join(f"{f.total_seconds:.2f}" for f in floors)
    ceilings = " / ".join(f"{loader / f.total_seconds:.2f}×" for f in floors) if loader else "—"
    return f"{seconds} | {ceilings}"


def _summary(measured: list[Measured]) -> None:
    print("\n## summary (rows/s; ratio = bandwise ÷ other)\n")
    print(
        "| shape | users | rows | MB | bandwise (verified) | pgloader (tuned) | raw COPY "
        "| ÷ pgloader | ÷ raw COPY | bandwise / pgloader RSS MiB | floor s (1 / 2 conn.) "
        "| pgloader s ÷ floor s (1 / 2 conn.) | bandwise CPU s (process + server) "
        f"| pgloader s ÷ (bandwise CPU ÷ {_cores()} cores) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for m in measured:
        ours, loader, raw = (m.rate(p) for p in ("bandwise import-sqlite", "pgloader", "raw"))
        rss = {run.tool.split()[0]: run.peak_rss_mb for run in m.runs}

        print(
            f"| {m.shape} | {m.users:,} | {m.rows:,} | {m.megabytes:.0f} | {_show(ours)} "
            f"| {_show(loader)} | {_show(raw)} | {_ratio(ours, loader)} | {_ratio(ours, raw)} "
            f"| {rss.get('bandwise', 0):.0f} / {rss.get('pgloader', 0):.0f} "
            f"| {_floor_text(m)} | {_cpu_bound(m)} |"
        )
    print(f"\nload average at the end: {_load()}")


def main() -> None:
    """Measure every requested shape at every requested size; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[20_000])
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        action="append",
        help="data shape (repeatable; default: every shape)",
    )
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each tool per file (median reported)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder for scratch files (created if missing)"
    )
    parser.add_argument("--pgloader-stock", action="store_true", help="also run stock pgloader")
    parser.add_argument("--skip-pgloader", action="store_true")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time PostgreSQL's share of a verified import alone (verified_floor.py)",
    )
    parser.add_argument(
        "--worker-process", action="store_true", help="also run bandwise with --worker-process"
    )
    args = parser.parse_args()
    if not GNU_TIME.exists():
        raise SystemExit("GNU time is missing: install it with `make bench-tools` (package time)")
    # As the production image does (Dockerfile: compileall): where PYTHONDONTWRITEBYTECODE is
    # set, an editable install would otherwise compile bandwise's modules on every run.
    compileall.compile_dir(ROOT / "src", quiet=1)
    if not args.skip_pgloader and shutil.which("pgloader") is None:
        raise SystemExit(
            "pgloader is missing: install it with `make bench-tools` (Debian package pgloader), "
            "or pass --skip-pgloader"
        )
    measured = [
        measure(shape, users, args) for users in args.users for shape in args.shape or SHAPES
    ]
    _summary(measured)


if __name__ == "__main__":
    main()
