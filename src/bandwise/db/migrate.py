"""Apply, inspect and check schema migrations on either engine.

Upgrades run in one transaction under a PostgreSQL advisory lock (several instances may start
at once), with SQLite's foreign-key enforcement off while tables are rebuilt. A database made
by the legacy bot (its tables, no ``alembic_version``) is stamped at the legacy baseline and
upgraded in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.db.engine import READ_LOCK_TIMEOUT, describe_target, file_preserving_sibling, reader
from bandwise.errors import MigrationError, SchemaNotAtHead
from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS, LEGACY_TABLES
from bandwise.models import Base

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LEGACY_BASELINE = "0001"
# What an in-place upgrade of a legacy file does with rows whose parent is gone (0002):
# "refuse" (name them, change nothing) or "quarantine" (file them in import_quarantine).
OrphanPolicy = Literal["refuse", "quarantine"]
# Arbitrary but fixed: every bandwise process serialises its migrations on this key.
MIGRATION_LOCK_KEY = 0x62616E64  # "band"


def alembic_config() -> Config:
    """Return an Alembic config pointing at the package's migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise MigrationError("no migrations found")
    return head


@dataclass
class MigrationResult:
    """What an upgrade or downgrade did."""

    before: str | None
    after: str | None
    applied: list[str] = field(default_factory=list)
    adopted_legacy: bool = False

    @property
    def changed(self) -> bool:
        """Tell whether any revision was applied."""
        return bool(self.applied)


async def _migration_engine(engine: AsyncEngine) -> tuple[AsyncEngine, bool]:
    if engine.dialect.name != "sqlite":
        return engine, False
    # A private connection with foreign keys off: rebuilding a table must not cascade. The
    # journal mode stays as it is; the service switches it once the schema is at head.
    return file_preserving_sibling(engine, foreign_keys=False), True


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _looks_legacy(connection: Connection) -> bool:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables and _current(connection) is not None:
        return False
    if not set(LEGACY_TABLES) <= tables:
        return False
    user_columns = {column["name"] for column in inspector.get_columns("users")}
    return set(LEGACY_ONLY_USER_COLUMNS) <= user_columns


def _run(
    connection: Connection,
    action: str,
    revision: str,
    result: MigrationResult,
    orphans: OrphanPolicy = "refuse",
) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["legacy_orphans"] = orphans

    def record(*, step: Any, **_: Any) -> None:
        result.applied.append(step.up_revision_id)

    config.attributes["on_version_apply"] = record
    result.before = _current(connection)
    if action == "upgrade":
        if result.before is None and _looks_legacy(connection):
            log.warning(
                "legacy bandwise database found: adopting it at revision %s", LEGACY_BASELINE
            )
            command.stamp(config, LEGACY_BASELINE)
            result.adopted_legacy = True
            result.before = LEGACY_BASELINE
        elif result.before is None and set(LEGACY_TABLES) & set(
            inspect(connection).get_table_names()
        ):
            raise MigrationError(
                "the database has bandwise tables but no alembic_version and does not match the "
                "legacy schema; refusing to guess. Inspect it, or start from an empty database."
            )
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)
    result.after = _current(connection)


def _failure_message(
    action: str, result: MigrationResult, error: BaseException, target: str
) -> MigrationError:
    at = result.before or "base"
    cause = str(getattr(error, "orig", None) or error).strip()
    failed = "the next revision"
    script = ScriptDirectory.from_config(alembic_config())
    if action == "upgrade":
        upcoming = [
            rev.revision
            for rev in script.iterate_revisions("heads", at if at != "base" else "base")
        ]
        pending = [rev for rev in reversed(upcoming) if rev != at and rev not in result.applied]
        if pending:
            failed = pending[0]
    return MigrationError(
        f"{action} of {target} failed at revision {failed}: {cause}\n"
        f"Everything was rolled back: the database is still at revision {at}. "
        f"Fix the cause and run `bandwise db upgrade` again; to go back to an earlier schema, "
        f"`bandwise db downgrade <revision>` (see `bandwise db history`).",
        revision=failed,
    )


async def _migrate(
    engine: AsyncEngine, action: str, revision: str, orphans: OrphanPolicy = "refuse"
) -> MigrationResult:
    result = MigrationResult(before=None, after=None)
    runner, disposable = await _migration_engine(engine)
    target = describe_target(engine)
    try:
        async with runner.connect() as connection:
            if connection.dialect.name != "sqlite":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            try:
                await connection.run_sync(_run, action, revision, result, orphans)
            except MigrationError:
                await connection.rollback()
                raise
            except Exception as error:
                await connection.rollback()
                raise _failure_message(action, result, error, target) from error
            await connection.commit()
    finally:
        if disposable:
            await runner.dispose()
    if result.applied:
        log.info(
            "schema %s: %s → %s (%s)",
            action,
            result.before or "base",
            result.after or "base",
            ", ".join(result.applied),
        )
    else:
        log.info("schema already at %s; nothing to do", result.after or "base")
    return result


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, orphans: OrphanPolicy = "refuse"
) -> MigrationResult:
    """Bring the schema up to ``revision`` (default head); a no-op when already there.

    ``orphans``: what adopting a legacy file does with rows whose user or submission is gone
    (see :data:`OrphanPolicy`); the default refuses and leaves the file unchanged.
    """
    return await _migrate(engine, "upgrade", revision, orphans)


async def downgrade(engine: AsyncEngine, revision: str) -> MigrationResult:
    """Take the schema down to ``revision`` (``base`` drops every bandwise table and type)."""
    return await _migrate(engine, "downgrade", revision)


async def current_revision(
    engine: AsyncEngine, *, lock_timeout: float = READ_LOCK_TIMEOUT
) -> str | None:
    """Return the database's schema revision (None for an empty or legacy database).

    The read changes nothing (a SQLite file keeps its journal mode) and waits at most
    ``lock_timeout`` seconds for a lock (a migration under way, a writer), then raises.
    """
    async with reader(engine, lock_timeout) as probe, probe.connect() as connection:
        if connection.dialect.name != "sqlite":
            timeout_ms = int(lock_timeout * 1000)
            await connection.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
        return await connection.run_sync(_current)


async def is_at_head(engine: AsyncEngine) -> bool:
    """Tell whether the database schema is exactly this code's head revision."""
    return await current_revision(engine) == head_revision()


async def require_head(engine: AsyncEngine, *, lock_timeout: float, remedy: str) -> None:
    """Raise SchemaNotAtHead unless the schema is this code's head (the check changes nothing).

    ``remedy`` tells the operator what to do about it.
    """
    current = await current_revision(engine, lock_timeout=lock_timeout)
    head = head_revision()
    if current != head:
        raise SchemaNotAtHead(
            f"the schema of {describe_target(engine)} is at revision "
            f"{current or 'base (empty, or a legacy file)'}; this code runs on {head}. "
            f"Nothing was changed. {remedy}"
        )


def history() -> list[tuple[str, str | None, str]]:
    """Return (revision, down revision, message) for every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    return [
        (
            rev.revision,
            rev.down_revision if isinstance(rev.down_revision, str) else None,
            (rev.doc or "").strip().splitlines()[0] if rev.doc else "",
        )
        for rev in reversed(revisions)
    ]


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def schema_drift(engine: AsyncEngine) -> list[Any]:
    """Return the differences between the models and the (migrated) database schema."""
    async with engine.connect() as connection:
        return await connection.run_sync(_diff)
