"""Create, restore into and drop PostgreSQL databases on the backup's server."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine, describe_target
from bandwise.db.errors import to_domain_error
from bandwise.errors import InvalidInput, OperationFailed
from bandwise.ops.backup.manifest import BackupManifest
from bandwise.ops.backup.pgtools import PgTools, libpq_environment, tool_failure
from bandwise.ops.backup.stats import TableStats, collect_table_stats
from bandwise.ops.backup.streams import plaintext_chunks, run_tool

DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAINTENANCE_DATABASE = "postgres"


def check_database_name(name: str) -> str:
    """Return ``name`` when it is a plain PostgreSQL database name; InvalidInput otherwise."""
    if not DATABASE_NAME.match(name):
        raise InvalidInput(
            f"database name {name!r} must be 1–63 letters, digits or underscores, not starting "
            "with a digit",
            field="into",
        )
    return name


def long_running_engine(settings: Settings, url: URL | str) -> AsyncEngine:
    """Create a pool-less engine without statement timeouts (exact counts of big tables, restores).

    DB_STATEMENT_TIMEOUT protects the bot's requests; an operator's procedure may rightly take
    longer than that on a large database.
    """
    rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    unbounded = settings.model_copy(update={"db_statement_timeout": 0.0})
    return create_engine(unbounded, url=rendered, null_pool=True)


def url_for(engine: AsyncEngine, database: str) -> URL:
    """Return the engine's URL pointed at ``database`` (same server and credentials)."""
    return engine.url.set(database=database)


@asynccontextmanager
async def admin_engine(
    settings: Settings, engine: AsyncEngine, database: str | None = None
) -> AsyncIterator[AsyncEngine]:
    """Yield an autocommit engine on the same server (for CREATE/DROP/ALTER DATABASE)."""
    url = url_for(engine, database) if database else engine.url
    created = long_running_engine(settings, url)
    try:
        yield created.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await created.dispose()


async def execute_admin(admin: AsyncEngine, statement: str) -> None:
    """Run one autocommit statement, translating connection failures."""
    try:
        async with admin.connect() as connection:
            await connection.execute(text(statement))
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise to_domain_error(error, describe_target(admin)) from error


async def database_exists(admin: AsyncEngine, name: str) -> bool:
    """Tell whether database ``name`` exists on the server."""
    try:
        async with admin.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            return found.scalar() is not None
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise to_domain_error(error, describe_target(admin)) from error


async def drop_database(admin: AsyncEngine, name: str) -> None:
    """Drop ``name`` (disconnecting its sessions); a missing database is fine."""
    await execute_admin(
        admin, f'DROP DATABASE IF EXISTS "{check_database_name(name)}" WITH (FORCE)'
    )


def _restore_command(tools: PgTools, database: str, path: Path | None) -> list[str]:
    command = [
        tools.pg_restore,
        "--no-password",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={database}",
    ]
    return [*command, str(path)] if path is not None else command


def _pg_restore(
    tools: PgTools,
    env: dict[str, str],
    database: str,
    path: Path,
    manifest: BackupManifest,
    key: str | None,
) -> None:
    if manifest.encrypted:
        with plaintext_chunks(path, True, key) as chunks:
            returncode, stderr = run_tool(_restore_command(tools, database, None), env, chunks)
    else:
        returncode, stderr = run_tool(_restore_command(tools, database, path), env)
    if returncode != 0:
        raise OperationFailed(tool_failure("pg_restore", returncode, stderr))


def list_archive(tools: PgTools, path: Path, manifest: BackupManifest, key: str | None) -> None:
    """Run ``pg_restore --list`` over the archive; OperationFailed when it cannot read it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if manifest.encrypted:
        with plaintext_chunks(path, True, key) as chunks:
            returncode, stderr = run_tool([tools.pg_restore, "--list"], env, chunks)
    else:
        returncode, stderr = run_tool([tools.pg_restore, "--list", str(path)], env)
    if returncode != 0:
        raise OperationFailed(tool_failure("pg_restore --list", returncode, stderr))


async def restore_into(
    settings: Settings,
    engine: AsyncEngine,
    tools: PgTools,
    database: str,
    path: Path,
    manifest: BackupManifest,
    key: str | None,
) -> None:
    """Create ``database`` and restore the archive into it (dropped again on failure)."""
    async with admin_engine(settings, engine) as admin:
        await execute_admin(admin, f'CREATE DATABASE "{check_database_name(database)}"')
        try:
            env = libpq_environment(engine.url, database)
            await asyncio.to_thread(_pg_restore, tools, env, database, path, manifest, key)
        except BaseException:
            await drop_database(admin, database)
            raise


async def stats_of(settings: Settings, engine: AsyncEngine, database: str) -> TableStats:
    """Return the table stats of ``database`` on the engine's server."""
    target = long_running_engine(settings, url_for(engine, database))
    try:
        async with target.connect() as connection:
            return await connection.run_sync(collect_table_stats)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise to_domain_error(error, describe_target(target)) from error
    finally:
        await target.dispose()
