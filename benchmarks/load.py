"""Load benchmark: N simulated candidates against the real service on SQLite and on PostgreSQL.

For each engine it starts `bandwise serve` as a child process (SQLite: a fresh file;
PostgreSQL: a fresh throwaway cluster of its own), lets ``--users`` candidates submit essays
back to back over loopback HTTP for ``--seconds``, and prints per engine: acknowledged
submissions/s, latency percentiles, errors by kind ("database is locked" counted), pool and
server connection peaks, and PostgreSQL's server-side statement times (pg_stat_statements);
then the PostgreSQL/SQLite throughput ratio. The assessor is the offline heuristic one, so
the database is what differs between the two runs.

    .venv/bin/python benchmarks/load.py                      # 100 users x 20 s per engine
    .venv/bin/python benchmarks/load.py --users 50 --seconds 10 --engines postgresql
    .venv/bin/python benchmarks/load.py --driver both        # HTTP API, then the bot
    .venv/bin/python benchmarks/load.py --soak               # 10 min, samples every 30 s

Drivers: ``http`` posts to the API of a `bandwise serve` child process; ``bot`` sends each
essay as a Telegram text-message update through the real aiogram Dispatcher in this process
(one event loop, like one bot process; only Telegram is imitated, by a recording session)
and reads the outcome from the bot's replies: assessment, limit refusal, "busy", ….
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bandwise.config import load_settings
from bandwise.db.engine import create_engine
from bandwise.logs import setup_logging
from bandwise.models import Assessment
from bandwise.ops.health import pool_usage
from bandwise.runtime import Runtime

# testkit (test tooling, not installed) lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bandwise.runtime import open_runtime
from testkit.bot_driver import BotDriver
from testkit.load import (
    HttpDriver,
    LoadReport,
    Sampler,
    SpreadDriver,
    SubmissionDriver,
    process_cpu_seconds,
    process_tree_cpu_seconds,
    run_load,
    self_cpu_seconds,
    tree_cpu_delta,
)
from testkit.pg_cluster import PgCluster
from testkit.service import ServiceProcess

DATABASE = "bandwise"
POOL_DETAIL = re.compile(r"(\d+)/(\d+) in use")
RETRIED = "transient database failure"  # db.retry's warning before each retry


@dataclass
class Target:
    """A database the service runs on, with what the benchmark can ask of its server."""

    engine: str
    url: str
    cluster: PgCluster | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def server_connections(self) -> float:
        """Return the number of server connections to the database (PostgreSQL only)."""
        if self.cluster is None:
            return math.nan
        return float(
            self.cluster.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{DATABASE}'")
        )

    def server_cpu(self) -> dict[int, float]:
        """Return CPU seconds of the server's processes so far (PostgreSQL only)."""
        pid = self.cluster.pid() if self.cluster is not None else None
        return process_tree_cpu_seconds(pid) if pid is not None else {}

    def reset_statement_stats(self) -> None:
        """Forget statement statistics gathered so far (start-up, migrations)."""
        if self.cluster is not None:
            self.cluster.psql("SELECT pg_stat_statements_reset()", DATABASE)

    def statement_stats(self) -> tuple[int, float, float]:
        """Return (calls, mean ms, max ms) of the application's statements on the server."""
        if self.cluster is None:
            return 0, math.nan, math.nan
        row = self.cluster.psql(
            "SELECT coalesce(sum(calls), 0), "
            "coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0), "
            "coalesce(max(max_exec_time), 0) FROM pg_stat_statements s "
            f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{DATABASE}' "
            "AND query NOT ILIKE '%pg_stat%' AND query NOT ILIKE '%alembic_version%'",
            DATABASE,
        )
        calls, mean, maximum = row.split("|")
        return int(calls), float(mean), float(maximum)


@contextlib.contextmanager
def sqlite_target() -> Iterator[Target]:
    """Yield a fresh SQLite file as the target."""
    root = Path(tempfile.mkdtemp(prefix="bandwise-load-sqlite-"))
    try:
        yield Target("sqlite", f"sqlite:///{root / 'bandwise.db'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def slow_disk_environment(delay_ms: float) -> dict[str, str]:
    """Return the environment that makes a process's fsync/fdatasync take ``delay_ms`` longer.

    Builds ``benchmarks/slow_fsync.c`` (needs a C compiler) into a temporary directory the
    ``postgres`` user can read; the library is preloaded into the service and the server.
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("--fsync-delay-ms needs a C compiler (cc or gcc)")
    folder = Path(tempfile.mkdtemp(prefix="bandwise-slow-fsync-"))
    folder.chmod(0o755)
    library = folder / "slow_fsync.so"
    source = Path(__file__).with_name("slow_fsync.c")
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"],
        check=True,
    )
    library.chmod(0o755)
    return {"LD_PRELOAD": str(library), "SLOW_FSYNC_US": str(int(delay_ms * 1000))}


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """Set ``variables`` in this process's environment for the block (children inherit them)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def postgres_target(fsync: bool = True, disk: dict[str, str] | None = None) -> Iterator[Target]:
    """Yield a database on a throwaway cluster of the benchmark's own (pg_stat_statements on).

    ``fsync`` True is a production server: every commit flushed to disk (``fsync``,
    ``full_page_writes``, ``synchronous_commit`` on). False is the test suites' cluster, which
    never waits for the disk (the setting of the benchmark's first two rounds). ``disk`` is
    the environment of a slower disk (``slow_disk_environment``) for the server's processes.
    """
    durable = "on" if fsync else "off"
    cluster = PgCluster(
        settings={
            "shared_preload_libraries": "'pg_stat_statements'",
            "synchronous_commit": "on",
            "fsync": durable,
            "full_page_writes": durable,
        }
    )
    with environment(disk or {}):
        cluster.start()
    try:
        cluster.create_database(DATABASE)
        cluster.psql("CREATE EXTENSION pg_stat_statements", DATABASE)
        yield Target("postgresql", cluster.url(DATABASE), cluster=cluster)
    finally:
        cluster.destroy()


def samplers_for(service: ServiceProcess, target: Target) -> list[Sampler]:
    """Return samplers of the service's pool, memory and the server's connections."""

    async def pool() -> dict[str, float]:
        async with httpx.AsyncClient(timeout=5) as client:
            body = (await client.get(f"{service.base_url}/health/ready")).json()
        match = POOL_DETAIL.search(str(body.get("checks", {}).get("pool", {}).get("detail", "")))
        return {"pool_in_use": float(match.group(1))} if match else {}

    async def process() -> dict[str, float]:
        rss = service.rss_megabytes()
        return {"rss_mb": rss} if rss is not None else {}

    async def server() -> dict[str, float]:
        return {"server_connections": await asyncio.to_thread(target.server_connections)}

    return [pool, process, server]


@contextlib.asynccontextmanager
async def running_services(
    target: Target, settings: dict[str, str], instances: int = 1
) -> AsyncIterator[list[ServiceProcess]]:
    """Start ``instances`` `bandwise serve` processes on ``target``; stop them afterwards."""
    services = [
        ServiceProcess(
            {
                "DATABASE_URL": target.url,
                "DAILY_SUBMISSION_LIMIT": "1000000",
                "LOG_LEVEL": "WARNING",
                **settings,
            }
        )
        for _ in range(instances)
    ]
    try:
        for service in services:
            service.start()
        await asyncio.gather(*(asyncio.to_thread(service.wait_ready, 60) for service in services))
        yield services
    finally:
        for service in services:
            service.stop()


async def stored_assessments(url: str) -> int:
    """Count the assessments in the database (each successful submission stores one)."""
    engine = create_engine(load_settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count(Assessment.id)))).scalar_one())
    finally:
        await engine.dispose()


@dataclass
class CpuUse:
    """CPU seconds used during a run by the service, the database server and this process.

    For the bot driver the service runs in this process, so ``service`` is NaN and
    ``generator`` holds both. SQLite runs inside the service process.
    """

    service: float = math.nan
    server: float = math.nan
    generator: float = math.nan


class CpuMeter:
    """Measure CPU seconds of service processes, a server's process tree and this process."""

    def __init__(self, target: Target, service_pids: list[int]) -> None:
        self.target = target
        self.service_pids = service_pids
        self.use = CpuUse()

    def __enter__(self) -> CpuMeter:
        self._service = [process_cpu_seconds(pid) for pid in self.service_pids]
        self._server = self.target.server_cpu()
        self._generator = self_cpu_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        if self.service_pids:
            after = [process_cpu_seconds(pid) for pid in self.service_pids]
            self.use.service = sum(a - b for a, b in zip(after, self._service, strict=True))
        if self.target.cluster is not None:
            self.use.server = tree_cpu_delta(self._server, self.target.server_cpu())
        self.use.generator = self_cpu_seconds() - self._generator


@dataclass
class EngineResult:
    """One engine's load report through one driver and its server-side statement statistics."""

    engine: str
    report: LoadReport
    statements: tuple[int, float, float]
    driver: str = "http"
    stored: int = -1
    cpu: CpuUse = field(default_factory=CpuUse)
    retried: int = -1  # transient failures the service retried (its log; HTTP driver only)


async def measure(
    target: Target, users: int, seconds: float, settings: dict[str, str], instances: int = 1
) -> EngineResult:
    """Run the load against ``target`` (spread over ``instances`` processes); return the result."""
    async with running_services(target, settings, instances) as services:
        target.reset_statement_stats()
        async with contextlib.AsyncExitStack() as stack:
            drivers: list[SubmissionDriver] = [
                await stack.enter_async_context(HttpDriver(service.base_url, timeout=60))
                for service in services
            ]
            pids = [service.pid for service in services if service.pid is not None]
            with CpuMeter(target, pids) as meter:
                report = await run_load(
                    SpreadDriver(drivers),
                    users=users,
                    duration=seconds,
                    samplers=samplers_for(services[0], target),
                    sample_every=1.0,
                )
        # Failures retried inside the service never reach the client; its log counts them.
        retried = sum(service.log_text().count(RETRIED) for service in services)
        return EngineResult(
            target.engine, report, target.statement_stats(), "http", cpu=meter.use, retried=retried
        )


def bot_samplers(runtime: Runtime, target: Target) -> list[Sampler]:
    """Return samplers of this process's pool and memory and the server's connections."""

    async def pool() -> dict[str, float]:
        return {"pool_in_use": float(pool_usage(runtime)[0])}

    async def process() -> dict[str, float]:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return {"rss_mb": int(line.split()[1]) / 1024}
        return {}

    async def server() -> dict[str, float]:
        return {"server_connections": await asyncio.to_thread(target.server_connections)}

    return [pool, process, server]


async def measure_bot(
    target: Target, users: int, seconds: float, settings: dict[str, str]
) -> EngineResult:
    """Run the load as Telegram updates through an in-process Dispatcher on ``target``."""
    flag = Path(tempfile.mkdtemp(prefix="bandwise-load-bot-")) / "maintenance.flag"
    settings_for_load = load_settings(
        database_url=target.url,
        daily_submission_limit=1_000_000,
        bot_processing_notice_seconds=3600,
        maintenance_flag_path=flag,
        **{key.lower(): value for key, value in settings.items()},
    )
    try:
        async with open_runtime(settings_for_load) as runtime:
            target.reset_statement_stats()
            with CpuMeter(target, []) as meter:
                report = await run_load(
                    BotDriver(runtime),
                    users=users,
                    duration=seconds,
                    samplers=bot_samplers(runtime, target),
                    sample_every=1.0,
                )
    finally:
        shutil.rmtree(flag.parent, ignore_errors=True)
    return EngineResult(target.engine, report, target.statement_stats(), "bot", cpu=meter.use)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def print_table(results: list[EngineResult]) -> None:
    """Print one row per engine and driver, and the throughput ratios.

    ``ok`` counts successes as the client saw them, ``stored`` the assessments the database
    holds afterwards; they match when nothing acknowledged was lost.
    ``retried`` counts the transient database failures (e.g. "database is locked" after the
    busy timeout) that the service retried and the client never saw.
    """
    header = (
        f"{'engine':<11}{'driver':<7}{'users':>6}{'ok/s':>9}{'ok':>8}{'stored':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'locked':>8}{'errors':>8}{'retried':>8}"
        f"{'pool max':>9}"
        f"{'srv conn':>9}{'rss MB':>8}{'stmt mean/max ms':>18}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        report = result.report
        errors = report.errors
        calls, mean, maximum = result.statements
        statement = f"{_fmt(mean, 2)}/{_fmt(maximum, 1)}" if calls else "-"
        # The bot reports a lock as "unsaved:database_locked" or "busy:database_locked".
        locked = sum(count for kind, count in errors.items() if "database_locked" in kind)
        print(
            f"{result.engine:<11}{result.driver:<7}{report.users:>6}{report.throughput:>9.1f}"
            f"{report.succeeded:>8}{result.stored:>8}{_fmt(report.latency(0.50)):>9}"
            f"{_fmt(report.latency(0.95)):>9}{_fmt(report.latency(0.99)):>9}"
            f"{locked:>8}{sum(errors.values()):>8}"
            f"{result.retried if result.retried >= 0 else '-':>8}"
            f"{_fmt(report.sample_max('pool_in_use'), 0):>9}"
            f"{_fmt(report.sample_max('server_connections'), 0):>9}"
            f"{_fmt(report.sample_max('rss_mb'), 0):>8}{statement:>18}"
        )
    print()
    print_cpu_table(results)
    for result in results:
        if result.report.errors:
            print(f"errors on {result.engine} via {result.driver}: {dict(result.report.errors)}")
            examples = {o.kind: o.detail for o in result.report.outcomes if not o.ok}
            for kind, detail in examples.items():
                print(f"  e.g. {kind}: {detail[:200]}")
    for driver in dict.fromkeys(result.driver for result in results):
        by_engine = {r.engine: r.report.throughput for r in results if r.driver == driver}
        if by_engine.get("sqlite") and "postgresql" in by_engine:
            print(
                f"ratio postgresql/sqlite successful submissions/s via {driver}: "
                f"{by_engine['postgresql'] / by_engine['sqlite']:.2f}x"
            )


def print_cpu_table(results: list[EngineResult]) -> None:
    """Print where the CPU went: per successful submission and as cores busy on average.

    ``service`` is the `bandwise serve` processes (SQLite's work included), ``server`` the
    PostgreSQL processes, ``generator`` this process (the simulated candidates; for the bot
    driver also the bot itself). ``cores`` is CPU seconds divided by the run's wall time.
    """
    header = (
        f"{'engine':<11}{'driver':<7}{'cpu ms/ok: service':>19}{'server':>8}{'generator':>10}"
        f"{'total':>7}{'cores: service':>16}{'server':>8}{'generator':>10}{'total':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        cpu = result.cpu
        parts = [cpu.service, cpu.server, cpu.generator]
        total = sum(part for part in parts if not math.isnan(part))
        ok = max(result.report.succeeded, 1)
        wall = max(result.report.seconds, 1e-9)
        per_ok = [part * 1000 / ok for part in [*parts, total]]
        cores = [part / wall for part in [*parts, total]]
        print(
            f"{result.engine:<11}{result.driver:<7}{_fmt(per_ok[0]):>19}{_fmt(per_ok[1]):>8}"
            f"{_fmt(per_ok[2]):>10}{_fmt(per_ok[3]):>7}{_fmt(cores[0], 2):>16}"
            f"{_fmt(cores[1], 2):>8}{_fmt(cores[2], 2):>10}{_fmt(cores[3], 2):>7}"
        )


async def soak(
    engine: str,
    users: int,
    minutes: float,
    think: float,
    settings: dict[str, str],
    fsync: bool = True,
    disk: dict[str, str] | None = None,
) -> None:
    """Run moderate load for ``minutes``; print memory, pool and server connections every 30 s."""
    with postgres_target(fsync, disk) if engine == "postgresql" else sqlite_target() as target:
        async with running_services(target, {**settings, **(disk or {})}) as (service,):
            print(
                f"soak on {engine}: {users} users, think {think} s, {minutes:g} min; "
                f"{machine_load()}",
                flush=True,
            )
            print(f"{'t s':>6}{'rss MB':>9}{'pool':>6}{'srv conn':>9}")

            def show(moment: float, sample: dict[str, float]) -> None:
                print(
                    f"{moment:>6.0f}{_fmt(sample.get('rss_mb', math.nan)):>9}"
                    f"{_fmt(sample.get('pool_in_use', math.nan), 0):>6}"
                    f"{_fmt(sample.get('server_connections', math.nan), 0):>9}",
                    flush=True,
                )

            async with HttpDriver(service.base_url, timeout=60) as driver:
                report = await run_load(
                    driver,
                    users=users,
                    duration=minutes * 60,
                    think_time=think,
                    samplers=samplers_for(service, target),
                    sample_every=30,
                    on_sample=show,
                )
            print(
                f"acknowledged {len(report.acknowledged)}, {report.throughput:.1f}/s, "
                f"p99 {_fmt(report.latency(0.99))} ms, errors {dict(report.errors)}"
            )


def machine_load() -> str:
    """Describe the machine's load (other work on a shared machine skews every number)."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100, help="simulated candidates (default 100)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="seconds per engine (default 20)"
    )
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma separated")
    parser.add_argument(
        "--driver",
        choices=["http", "bot", "both"],
        default="http",
        help="entry point: the HTTP API, Telegram updates through the Dispatcher, or both",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="service processes sharing the database (candidates spread over them)",
    )
    parser.add_argument("--pool-size", type=int, default=10, help="DB_POOL_SIZE of the service")
    parser.add_argument(
        "--max-overflow", type=int, default=20, help="DB_MAX_OVERFLOW of the service"
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="DB_SQLITE_SYNCHRONOUS of the service (default FULL: every commit durable)",
    )
    parser.add_argument(
        "--pg-fsync",
        choices=["on", "off"],
        default="on",
        help="PostgreSQL fsync and full_page_writes (default on: every commit durable; "
        "off: the test suites' cluster, as in the first measurements)",
    )
    parser.add_argument(
        "--fsync-delay-ms",
        type=float,
        default=0.0,
        help="make every fsync/fdatasync of the service and the server this much slower, "
        "like a network or cloud volume (benchmarks/slow_fsync.c, preloaded; needs cc)",
    )
    parser.add_argument("--soak", action="store_true", help="10-minute soak instead (PostgreSQL)")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--soak-users", type=int, default=20)
    parser.add_argument(
        "--soak-think", type=float, default=0.5, help="pause between a user's essays"
    )
    return parser.parse_args()


async def main() -> None:
    """Run the benchmark the command line asks for."""
    args = parse_args()
    settings = {
        "DB_POOL_SIZE": str(args.pool_size),
        "DB_MAX_OVERFLOW": str(args.max_overflow),
        "DB_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
    }
    fsync = args.pg_fsync == "on"
    disk = slow_disk_environment(args.fsync_delay_ms) if args.fsync_delay_ms > 0 else {}
    if args.soak:
        engine = args.engines.split(",")[-1]
        await soak(
            engine, args.soak_users, args.soak_minutes, args.soak_think, settings, fsync, disk
        )
        return
    setup_logging("CRITICAL")  # the in-process bot logs every refusal; the table counts them
    print(
        f"start; {machine_load()}; SQLite synchronous={args.sqlite_synchronous}, "
        f"PostgreSQL fsync={args.pg_fsync} (synchronous_commit=on); "
        f"extra fsync delay {args.fsync_delay_ms:g} ms"
        + (" (not for the in-process bot's SQLite)" if disk and args.driver != "http" else ""),
        flush=True,
    )
    drivers = ["http", "bot"] if args.driver == "both" else [args.driver]
    results = []
    for engine in [name.strip() for name in args.engines.split(",") if name.strip()]:
        factory = {
            "sqlite": sqlite_target,
            "postgresql": lambda: postgres_target(fsync, disk),
        }[engine]
        for driver in drivers:
            # A fresh database per run, so the second driver does not inherit the first's rows.
            with factory() as target:
                processes = f"{args.instances} service process(es)"
                where = "in-process" if driver == "bot" else processes
                print(
                    f"running {args.users} users for {args.seconds:g} s on {engine} "
                    f"via {driver} ({where}) ...",
                    flush=True,
                )
                if driver == "http":
                    result = await measure(
                        target, args.users, args.seconds, {**settings, **disk}, args.instances
                    )
                else:
                    result = await measure_bot(target, args.users, args.seconds, settings)
                result.stored = await stored_assessments(target.url)
                results.append(result)
    print(f"done; {machine_load()}")
    print()
    print_table(results)


if __name__ == "__main__":
    asyncio.run(main())
