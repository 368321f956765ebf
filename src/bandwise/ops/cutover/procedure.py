"""The cutover procedure: explicit steps, each timed and logged, rolled back on any failure.

1 preflight · 2 online SQLite backup · 3 write freeze · 4 verified import · 5 env switch ·
6 smoke test · 7 restart onto PostgreSQL and unfreeze. A rehearsal runs 1, 2, 4 and 6 against
a copy of the SQLite file and a scratch database, touching nothing live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from bandwise.config import Settings, mask_url, normalise_database_url
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import BandwiseError, OperationFailed
from bandwise.ops.backup import copy_sqlite_online
from bandwise.ops.cutover import service
from bandwise.ops.cutover.envfile import restore_env_file, set_database_url
from bandwise.ops.cutover.estimate import RehearsalMeasure, estimate_freeze
from bandwise.ops.cutover.report import CutoverReport, StepRecord
from bandwise.ops.cutover.smoke import smoke_test
from bandwise.ops.importer import (
    BadRowPolicy,
    ImportOptions,
    check_source_tables,
    import_sqlite,
)
from bandwise.ops.importer.report import QuarantinedRow
from bandwise.ops.importer.tables import TABLE_ORDER
from bandwise.ops.maintenance import enter_maintenance, leave_maintenance
from bandwise.wording import plural

log = logging.getLogger(__name__)

MIN_SERVER_VERSION = 130000
StepObserver = Callable[[StepRecord], Awaitable[None] | None]


@dataclass
class CutoverOptions:
    """What the operator asked for."""

    sqlite_path: Path
    postgres_url: str
    env_file: Path | None = None
    rehearse: bool = False
    replace: bool = False
    service_url: str | None = None
    service_stopped: bool = False
    restart_cmd: str | None = None
    freeze_timeout: float = 60.0
    restart_timeout: float = 120.0
    sample_users: int = 20
    # Source tables left behind on purpose (see ImportOptions.skip_tables).
    skip_tables: tuple[str, ...] = ()
    skip_columns: tuple[str, ...] = ()  # likewise columns, "table.column"
    # What the import does with bad rows (the smoke test leaves out the rows it set aside).
    on_bad_rows: BadRowPolicy = "abort"
    work_dir: Path | None = None
    # Called after each step ends (progress output; tests inject faults at exact moments).
    on_step: StepObserver | None = None


@dataclass
class _State:
    """What has been changed so far, i.e. what a rollback must undo."""

    work_dir: Path
    frozen: bool = False
    imported: bool = False
    env_backup: Path | None = None
    restarted: bool = False
    service_running: bool = False
    scratch_database: str | None = None
    target_url: str = ""
    # The rows the import set aside (import_quarantine); the smoke test accounts for them.
    set_aside: list[QuarantinedRow] = field(default_factory=list)
    cleanup: list[Path] = field(default_factory=list)


async def run_cutover(settings: Settings, options: CutoverOptions) -> CutoverReport:
    """Run the cutover (or its rehearsal) and return the report; never leaves a half state."""
    postgres_url = normalise_database_url(options.postgres_url)
    report = CutoverReport(
        rehearsal=options.rehearse,
        sqlite_path=str(options.sqlite_path),
        target=mask_url(postgres_url),
        started_at=datetime.now(UTC).isoformat(),
    )
    work_dir = Path(tempfile.mkdtemp(prefix="bandwise-cutover-", dir=options.work_dir))
    state = _State(work_dir=work_dir, target_url=postgres_url)
    procedure = _Procedure(settings, options, report, state)
    try:
        await procedure.run()
        report.succeeded = True
    except BaseException as error:
        report.failure = _describe(error)
        report.failed_step = next((s.name for s in report.steps if s.status == "failed"), None)
        await procedure.roll_back()
        if not isinstance(error, Exception):
            raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        report.finished_at = datetime.now(UTC).isoformat()
    return report


def _describe(error: BaseException) -> str:
    if isinstance(error, BandwiseError):
        return error.message
    if isinstance(error, KeyboardInterrupt):
        return "interrupted by the operator"
    return f"{type(error).__name__}: {error}"


class _Procedure:
    """The steps, sharing the options, the report and the rollback state."""

    def __init__(
        self, settings: Settings, options: CutoverOptions, report: CutoverReport, state: _State
    ) -> None:
        self.settings = settings
        self.options = options
        self.report = report
        self.state = state
        self.service_url = options.service_url or f"http://{settings.api_host}:{settings.api_port}"
        self.frozen_copy = state.work_dir / "frozen.db"
        self.freeze_started = 0.0
        self.source_rows = 0  # rows the import read from the frozen copy

    async def step(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        """Run one step, recording its outcome and duration."""
        record = self.report.step(name)
        started = time.monotonic()
        log.info("cutover step %s: started", name)
        try:
            record.detail = await action()
            record.status = "ok"
        except BaseException as error:
            record.status = "failed"
            record.detail = _describe(error)
            raise
        finally:
            record.seconds = time.monotonic() - started
            log.info("cutover step %s: %s in %.2f s", name, record.status, record.seconds)
            if self.options.on_step is not None:
                outcome = self.options.on_step(record)
                if outcome is not None:
                    await outcome

    async def run(self) -> None:
        """Run every step in order."""
        if self.options.rehearse:
            await self.step("preflight", self.preflight)
            await self.step("sqlite_backup", self.rehearsal_copy)
            await self.step("import", self.import_data)
            await self.step("smoke_test", self.smoke)
            await self.step("cleanup", self.drop_scratch)
            self._estimate_freeze()
            return
        await self.step("preflight", self.preflight)
        await self.step("sqlite_backup", self.backup)
        await self.step("write_freeze", self.freeze)
        await self.step("import", self.import_data)
        await self.step("switch_env", self.switch_env)
        await self.step("smoke_test", self.smoke)
        await self.step("restart_and_unfreeze", self.restart_and_unfreeze)

    # --- steps -------------------------------------------------------------------------------
    async def preflight(self) -> str:
        """Check the server, the target, the disk, the SQLite file and the service."""
        notes = []
        source = self.options.sqlite_path
        if not source.is_file():
            raise OperationFailed(f"SQLite file {source} does not exist")
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as connection:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise OperationFailed(f"SQLite integrity_check of {source} failed: {verdict}")
        notes.append("sqlite integrity ok")
        # An unaccounted table fails here, before anything is frozen or written.
        await asyncio.to_thread(
            check_source_tables, source, self.options.skip_tables, self.options.skip_columns
        )
        notes.append("every table accounted for")
        needed = 3 * source.stat().st_size
        free = shutil.disk_usage(
            self.settings.backup_dir if self.settings.backup_dir.exists() else Path.cwd()
        ).free
        if free < needed:
            raise OperationFailed(
                f"not enough free disk for the backup: {free} bytes free, {needed} needed"
            )
        version = await self._server_version()
        if version < MIN_SERVER_VERSION:
            raise OperationFailed(f"PostgreSQL {version} is too old; bandwise needs 13 or newer")
        notes.append(f"postgresql {version // 10000}.{version % 10000}")
        if self.options.rehearse:
            self.state.scratch_database = await self._create_scratch()
            notes.append(f"scratch database {self.state.scratch_database}")
            return ", ".join(notes)
        rows = await self._target_rows()
        if rows and not self.options.replace:
            raise OperationFailed(
                f"the PostgreSQL target is not empty ({plural(rows, 'row')}); pass --replace to "
                "overwrite it"
            )
        body = await service.probe(self.service_url)
        self.state.service_running = body is not None
        if body is None and not self.options.service_stopped:
            raise OperationFailed(
                f"the service at {self.service_url} is not reachable: start it, "
                "or pass --service-stopped if it is stopped on purpose"
            )
        if body is not None and not self.options.restart_cmd:
            raise OperationFailed(
                "the running service must be restarted onto PostgreSQL: pass "
                "--restart-cmd, or stop it and pass --service-stopped"
            )
        notes.append("service running" if body is not None else "service stopped")
        return ", ".join(notes)

    async def backup(self) -> str:
        """Take the online SQLite backup that is kept whatever happens."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        destination = self.settings.backup_dir / f"pre-cutover-{stamp}.db"
        path, digest = copy_sqlite_online(self.options.sqlite_path, destination)
        self.report.backup_path, self.report.backup_sha256 = str(path), digest
        return f"{path} sha256 {digest}"

    async def rehearsal_copy(self) -> str:
        """Copy the live file for the rehearsal (the live file is only read)."""
        path, digest = copy_sqlite_online(self.options.sqlite_path, self.frozen_copy)
        return f"copy {path.name} sha256 {digest[:16]}…"

    async def freeze(self) -> str:
        """Switch maintenance on and wait until no request is in flight."""
        ttl = timedelta(seconds=self.options.freeze_timeout + self.options.restart_timeout + 3600)
        enter_maintenance(self.settings.maintenance_flag_path, "cutover to PostgreSQL", ttl)
        self.state.frozen = True
        self.freeze_started = time.monotonic()
        detail = "maintenance on"
        if self.state.service_running:
            await service.wait_until(self.service_url, "frozen", self.options.freeze_timeout)
            detail += ", in-flight requests finished"
        _, digest = copy_sqlite_online(self.options.sqlite_path, self.frozen_copy)
        return f"{detail}; frozen copy sha256 {digest[:16]}…"

    async def import_data(self) -> str:
        """Import the frozen copy with verification (one transaction, all or nothing)."""
        target = self._import_target()
        self.state.imported = True  # from here on, a rollback empties the target
        result = await import_sqlite(
            self.frozen_copy,
            target,
            self.settings,
            ImportOptions(
                replace=self.options.replace or self.options.rehearse,
                work_dir=self.state.work_dir,
                skip_tables=self.options.skip_tables,
                skip_columns=self.options.skip_columns,
                on_bad_rows=self.options.on_bad_rows,
            ),
        )
        if not result.verified:
            raise OperationFailed("the import could not be verified; nothing was committed")
        self.state.set_aside = list(result.quarantined)
        self.report.imported_rows = {
            table: figures.imported for table, figures in result.tables.items()
        }
        self.report.quarantined_rows = {
            table: figures.quarantined
            for table, figures in result.tables.items()
            if figures.quarantined
        }
        self.source_rows = sum(figures.source_rows for figures in result.tables.values())
        detail = "verified: " + ", ".join(
            f"{table} {count}" for table, count in self.report.imported_rows.items()
        )
        if self.state.set_aside:
            detail += f"; {plural(len(self.state.set_aside), 'row')} set aside in import_quarantine"
        return detail

    async def switch_env(self) -> str:
        """Point DATABASE_URL at PostgreSQL, keeping the old env file."""
        if self.options.env_file is None:
            return "skipped: no --env-file (set DATABASE_URL for the service yourself)"
        self.state.env_backup = set_database_url(self.options.env_file, self.state.target_url)
        self.report.env_backup_path = str(self.state.env_backup)
        return f"DATABASE_URL switched; previous file kept as {self.state.env_backup}"

    async def smoke(self) -> str:
        """Check the new database before it takes traffic."""
        copy = self.state.work_dir / "smoke.db"
        shutil.copyfile(self.frozen_copy, copy)
        return await smoke_test(
            self.settings,
            copy,
            self._import_target(),
            self.options.sample_users,
            set_aside=self.state.set_aside,
        )

    async def restart_and_unfreeze(self) -> str:
        """Restart the service onto PostgreSQL, wait until it answers from it, unfreeze."""
        detail = []
        if self.options.restart_cmd:
            await _run_command(self.options.restart_cmd, self.options.restart_timeout)
            self.state.restarted = True
            await service.wait_until(self.service_url, "postgresql", self.options.restart_timeout)
            detail.append("service restarted and answering from PostgreSQL")
        leave_maintenance(self.settings.maintenance_flag_path)
        self.state.frozen = False
        self.report.freeze_seconds = time.monotonic() - self.freeze_started
        detail.append("maintenance off")
        return ", ".join(detail)

    async def drop_scratch(self) -> str:
        """Drop the rehearsal's scratch database."""
        name = self.state.scratch_database
        if name is None:
            return "nothing to drop"
        await self._drop_database(name)
        self.state.scratch_database = None
        return f"dropped {name}"

    # --- rollback ----------------------------------------------------------------------------
    async def roll_back(self) -> None:
        """Undo every change in reverse: env file, target, service, maintenance."""
        actions = self.report.rollback
        if self.state.env_backup is not None and self.options.env_file is not None:
            await self._undo(
                actions,
                "env file restored",
                _as_async(restore_env_file, self.options.env_file, self.state.env_backup),
            )
        if self.state.scratch_database is not None:
            await self._undo(
                actions,
                f"scratch database {self.state.scratch_database} dropped",
                self._drop_database(self.state.scratch_database),
            )
        elif self.state.imported and not self.options.rehearse:
            await self._undo(
                actions, "PostgreSQL target emptied (schema removed)", self._empty_target()
            )
        if self.state.restarted and self.options.restart_cmd:
            await self._undo(
                actions,
                "service restarted on SQLite",
                _run_command(self.options.restart_cmd, self.options.restart_timeout),
            )
        if self.state.frozen:
            await self._undo(
                actions,
                "maintenance off: SQLite back in service",
                _as_async(leave_maintenance, self.settings.maintenance_flag_path),
            )
        if self.report.backup_path:
            actions.append(f"SQLite untouched; its backup is kept at {self.report.backup_path}")

    @staticmethod
    async def _undo(actions: list[str], description: str, action: Awaitable[Any]) -> None:
        try:
            await action
            actions.append(description)
        except Exception as error:
            actions.append(f"FAILED ({description}): {_describe(error)}")
            log.error("rollback action failed: %s: %s", description, error)

    # --- helpers -----------------------------------------------------------------------------
    def _estimate_freeze(self) -> None:
        """Estimate the real freeze from the rehearsal's rates and the live file's size now."""
        seconds = {record.name: record.seconds for record in self.report.steps}
        measure = RehearsalMeasure(
            copy_seconds=seconds["sqlite_backup"],
            copied_bytes=self.frozen_copy.stat().st_size,
            import_seconds=seconds["import"],
            imported_rows=self.source_rows,
            smoke_seconds=seconds["smoke_test"],
            live_bytes=self.options.sqlite_path.stat().st_size,
            live_rows=_source_rows(self.options.sqlite_path),
        )
        phases = estimate_freeze(measure)
        self.report.freeze_estimate = phases
        self.report.import_rows_per_second = measure.rows_per_second
        self.report.expected_freeze_seconds = sum(phase.seconds for phase in phases)

    def _import_target(self) -> str:
        if self.state.scratch_database is None:
            return self.state.target_url
        url = make_url(self.state.target_url).set(database=self.state.scratch_database)
        return url.render_as_string(hide_password=False)

    async def _server_version(self) -> int:
        engine = create_engine(self.settings, url=self.state.target_url, null_pool=True)
        try:
            async with engine.connect() as connection:
                value = (await connection.execute(text("SHOW server_version_num"))).scalar_one()
        except Exception as error:
            raise OperationFailed(
                f"PostgreSQL at {mask_url(self.state.target_url)} is not reachable: {error}"
            ) from error
        finally:
            await engine.dispose()
        return int(value)

    async def _target_rows(self) -> int:
        engine = create_engine(self.settings, url=self.state.target_url, null_pool=True)
        try:
            async with engine.connect() as connection:
                tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
                total = 0
                for table in TABLE_ORDER:
                    if table in tables:
                        count = await connection.execute(text(f"SELECT count(*) FROM {table}"))
                        total += int(count.scalar_one())
                return total
        finally:
            await engine.dispose()

    async def _admin_execute(self, statement: str) -> None:
        url = make_url(self.state.target_url).set(database="postgres")
        engine = create_engine(
            self.settings, url=url.render_as_string(hide_password=False), null_pool=True
        )
        try:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def _create_scratch(self) -> str:
        base = make_url(self.state.target_url).database or "bandwise"
        name = f"{base}_rehearsal_{uuid.uuid4().hex[:8]}"
        await self._admin_execute(f'CREATE DATABASE "{name}"')
        return name

    async def _drop_database(self, name: str) -> None:
        await self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def _empty_target(self) -> None:
        engine = create_engine(self.settings, url=self.state.target_url, null_pool=True)
        try:
            if await migrate.current_revision(engine) is not None:
                await migrate.downgrade(engine, "base")
        finally:
            await engine.dispose()


def _source_rows(path: Path) -> int:
    """Return the rows the import would read from the SQLite file ``path`` (read only)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        present = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        return sum(
            int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            for table in TABLE_ORDER
            if table in present
        )


async def _as_async(function: Callable[..., Any], *args: Any) -> None:
    function(*args)


async def _run_command(command: str, timeout: float) -> None:
    process = await asyncio.create_subprocess_shell(
        command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise OperationFailed(f"`{command}` did not finish within {timeout:g} s") from None
    if process.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise OperationFailed(f"`{command}` exited with {process.returncode}: {' / '.join(tail)}")
