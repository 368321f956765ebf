"""Create the async engine for SQLite or PostgreSQL from settings."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bandwise.config import Settings, mask_url, normalise_database_url
from bandwise.db.errors import sqlite_unopenable, unavailable
from bandwise.db.pool_counts import track_connections

log = logging.getLogger(__name__)

SqliteSynchronous = Literal["FULL", "NORMAL"]

# Seconds the client waits beyond DB_STATEMENT_TIMEOUT: long enough for the server's own
# cancellation to arrive first, short enough that a blackholed connection (whose pre-ping
# also waits this long) does not hold a request for many seconds.
CLIENT_TIMEOUT_MARGIN = 1.0
# Seconds a health, status or schema read waits for a lock before it reports the database busy:
# such reads must answer while a writer holds the lock, not wait out the writers' busy timeout.
READ_LOCK_TIMEOUT = 1.0


def is_sqlite(engine: AsyncEngine) -> bool:
    """Tell whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def install_sqlite_hooks(
    engine: AsyncEngine,
    busy_timeout: float,
    *,
    foreign_keys: bool = True,
    synchronous: SqliteSynchronous = "FULL",
    wal: bool = True,
    read_only: bool = False,
) -> None:
    """Configure every SQLite connection of ``engine``: WAL, foreign keys, busy timeout, BEGIN.

    ``foreign_keys=False`` is for migrations only: rebuilding a table must not cascade.
    ``wal=False`` leaves the file's journal mode as it is.
    ``read_only`` refuses every write and begins transactions DEFERRED: a read then never
    waits for the write lock (in WAL mode it never waits for a writer at all).
    ``synchronous`` FULL makes every commit durable (the WAL is synced before COMMIT returns),
    like PostgreSQL's ``synchronous_commit = on``; NORMAL syncs only at checkpoints, so a power
    loss can roll back the last acknowledged commits (the file stays consistent).
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"unsupported SQLite synchronous mode {synchronous!r}")
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that DDL is transactional and
        # every transaction begins where SQLAlchemy says (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    # IMMEDIATE takes the write lock up front: a deferred transaction that later writes fails
    # with "database is locked" at once, without waiting on busy_timeout. A reader writes never.
    begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def create_sqlite_engine(
    url: URL | str,
    busy_timeout: float,
    *,
    foreign_keys: bool = True,
    synchronous: SqliteSynchronous = "FULL",
    wal: bool = True,
    read_only: bool = False,
    **options: Any,
) -> AsyncEngine:
    """Create a SQLite engine with bandwise's connection settings (parent folder created)."""
    target = make_url(url)
    folder = Path(target.database or "").parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        why = (
            "a file is in the way"
            if isinstance(error, FileExistsError | NotADirectoryError)
            else error.strerror or str(error)
        )
        reason = f"cannot create the folder {folder} ({why})"
        raise unavailable(sqlite_unopenable(mask_url(target), reason), mask_url(target)) from None
    engine = create_async_engine(target, connect_args={"timeout": busy_timeout}, **options)
    install_sqlite_hooks(
        engine,
        busy_timeout,
        foreign_keys=foreign_keys,
        synchronous=synchronous,
        wal=wal,
        read_only=read_only,
    )
    return engine


def file_preserving_sibling(
    engine: AsyncEngine,
    *,
    busy_timeout: float = 30.0,
    foreign_keys: bool = True,
    read_only: bool = False,
) -> AsyncEngine:
    """Return a pool-less engine on ``engine``'s SQLite file that leaves its journal mode alone.

    Whatever runs before the schema is known to be at head goes through it: switching a legacy
    file to WAL would change a file whose upgrade or start-up is then refused (it must stay
    byte-identical).
    """
    return create_sqlite_engine(
        engine.url,
        busy_timeout,
        foreign_keys=foreign_keys,
        wal=False,
        read_only=read_only,
        poolclass=NullPool,
    )


@asynccontextmanager
async def reader(
    engine: AsyncEngine, lock_timeout: float = READ_LOCK_TIMEOUT
) -> AsyncIterator[AsyncEngine]:
    """Yield an engine for reads: on SQLite one that never changes the file nor takes its lock.

    ``lock_timeout`` bounds its wait for a lock on SQLite (the busy timeout); on PostgreSQL the
    caller bounds its statements (``engine`` itself is yielded).
    """
    if not is_sqlite(engine):
        yield engine
        return
    sibling = file_preserving_sibling(engine, busy_timeout=lock_timeout, read_only=True)
    try:
        yield sibling
    finally:
        await sibling.dispose()


def _pool_options(settings: Settings, *, null_pool: bool) -> dict[str, Any]:
    """Return the engine options for the pool the settings describe (or no pool at all)."""
    options: dict[str, Any] = {"echo": settings.db_echo, "pool_pre_ping": True}
    if null_pool:
        options["poolclass"] = NullPool
    else:
        options.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_recycle=settings.db_pool_recycle,
        )
    return options


def _postgres_connect_args(settings: Settings) -> dict[str, Any]:
    connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout}
    server_settings = {"application_name": settings.db_application_name}
    if settings.db_pgbouncer:
        # Transaction pooling: a server connection serves many clients, so no statement cache
        # may outlive a transaction, and prepared statements need unique names.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = lambda: f"__bw_{uuid.uuid4().hex}__"
    elif settings.db_statement_timeout > 0:
        # PgBouncer refuses unknown start-up parameters, hence only without it.
        server_settings["statement_timeout"] = str(int(settings.db_statement_timeout * 1000))
    if settings.db_statement_timeout > 0:
        # Client-side bound as well: a blackholed connection must not hang a request forever.
        connect_args["command_timeout"] = settings.db_statement_timeout + CLIENT_TIMEOUT_MARGIN
    connect_args["server_settings"] = server_settings
    return connect_args


def create_engine(
    settings: Settings, *, url: str | None = None, null_pool: bool = False
) -> AsyncEngine:
    """Create the engine described by ``settings`` (or ``url``); nothing connects yet."""
    target = make_url(normalise_database_url(url) if url else settings.resolved_database_url)
    options = _pool_options(settings, null_pool=null_pool)
    if target.get_backend_name() == "sqlite":
        # A connection to a local file cannot go stale the way a network connection does, so
        # the checkout ping (a query on the connection's thread per checkout) buys nothing.
        options["pool_pre_ping"] = False
        engine = create_sqlite_engine(
            target,
            settings.db_sqlite_busy_timeout,
            synchronous=settings.db_sqlite_synchronous,
            **options,
        )
    else:
        engine = create_async_engine(
            target, connect_args=_postgres_connect_args(settings), **options
        )
    track_connections(engine)
    log.info("database engine %s at %s", engine.dialect.name, mask_url(target))
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by every entry point (objects survive commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def describe_target(engine: AsyncEngine) -> str:
    """Return the engine's URL with the password masked, for logs and messages."""
    return mask_url(engine.url)
