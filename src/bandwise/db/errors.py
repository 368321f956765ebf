"""Classify driver exceptions into transient and permanent, and into domain errors."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bandwise.errors import DatabaseBusy, DatabaseError, DatabaseUnavailable

# SQLSTATEs worth retrying: serialization failure, deadlock, and the server going away.
RETRYABLE_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"}
)
TOO_MANY_CONNECTIONS = frozenset({"53300"})
# Failures of the database drivers, as they reach an entry point untranslated.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)
# The same, plus the network's own failures: what an entry point translates into an outage.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (*DRIVER_ERRORS, ConnectionError, TimeoutError)
_WRAPPER_PREFIX = re.compile(r"^\([\w.]+\) ")


def _sqlstate(error: BaseException) -> str | None:
    original: Any = getattr(error, "orig", None) or error
    for candidate in (original, getattr(original, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_disconnect(error: BaseException) -> bool:
    """Tell whether ``error`` means the connection or the server went away."""
    for item in _chain(error):
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, ConnectionError | OSError | asyncio.TimeoutError | TimeoutError):
            return True
        name = type(item).__name__
        if name in {
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "CannotConnectNowError",
            "ConnectionFailureError",
            "AdminShutdownError",
            "ConnectionRejectionError",
        }:
            return True
        if _sqlstate(item) in {"57P01", "57P02", "57P03", "08000", "08003", "08006", "08001"}:
            return True
    return False


def is_transient(error: BaseException) -> bool:
    """Tell whether retrying the whole unit of work may succeed."""
    if isinstance(error, sa_exc.TimeoutError):  # pool checkout timeout: retrying only piles up
        return False
    if is_disconnect(error):
        return True
    for item in _chain(error):
        if _sqlstate(item) in RETRYABLE_SQLSTATES:
            return True
        if "database is locked" in str(item):
            return True
    return False


def error_kind(error: BaseException) -> str:
    """Return a short, stable label for metrics: disconnect, timeout, deadlock, …."""
    if isinstance(error, sa_exc.TimeoutError):
        return "pool_timeout"
    for item in _chain(error):
        state = _sqlstate(item)
        if state == "40P01":
            return "deadlock"
        if state == "40001":
            return "serialization"
        if state == "57014":
            return "statement_timeout"
        if state == "55P03":
            return "lock_timeout"
        if state in TOO_MANY_CONNECTIONS:
            return "too_many_connections"
        if "database is locked" in str(item):
            return "database_locked"
        if isinstance(item, asyncio.TimeoutError | TimeoutError):
            return "timeout"
    if is_disconnect(error):
        return "disconnect"
    return "other"


def is_lock_wait(error: BaseException) -> bool:
    """Tell whether ``error`` means a lock was not had in time: the database is busy, not down."""
    return error_kind(error) in ("lock_timeout", "database_locked")


def read_failure(error: BaseException) -> str:
    """Name why a health or status read failed: busy (a lock is held), or the error's type."""
    return "busy (another connection holds a lock)" if is_lock_wait(error) else type(error).__name__


@dataclass(frozen=True)
class Diagnosis:
    """Why a connection failed, in the operator's words, and what to try."""

    cause: str
    hint: str
    permanent: bool = False  # retrying cannot help (a wrong password, a missing database)


def _server_message(item: BaseException) -> str:
    lines = str(item).strip().splitlines()
    # SQLAlchemy prefixes the driver's text with its exception class: "(module.Error) …".
    return _WRAPPER_PREFIX.sub("", lines[0]) if lines else type(item).__name__


def _where(target: str) -> tuple[str, str]:
    """Return (``host:port``, database name) of a masked URL, for hints."""
    try:
        url = make_url(target)
    except ArgumentError:
        return "the server", "the database"
    return f"{url.host or 'localhost'}:{url.port or 5432}", url.database or "the database"


def diagnose(error: BaseException, target: str) -> Diagnosis | None:
    """Name the cause of a failed connection (password, refused, missing database, …) or None."""
    address, database = _where(target)
    for item in _chain(error):
        state = _sqlstate(item)
        if state == "28P01":
            return Diagnosis(
                _server_message(item),
                "check the password in DATABASE_URL (or POSTGRES_PASSWORD)",
                permanent=True,
            )
        if state == "28000":
            return Diagnosis(
                _server_message(item),
                "check the user name in DATABASE_URL and the server's pg_hba.conf",
                permanent=True,
            )
        if state == "3D000":
            return Diagnosis(
                _server_message(item),
                f"create it (createdb {database}) or fix the database name in DATABASE_URL",
                permanent=True,
            )
        if state in TOO_MANY_CONNECTIONS:
            return Diagnosis(
                "the server has too many connections",
                "lower DB_POOL_SIZE/DB_MAX_OVERFLOW or raise max_connections",
            )
        if isinstance(item, ConnectionRefusedError):
            return Diagnosis(
                "connection refused",
                f"is PostgreSQL running and listening on {address}? "
                "(`bandwise db wait` waits for it)",
            )
        if isinstance(item, socket.gaierror):
            return Diagnosis(
                "host name not found", "check the host in DATABASE_URL (or POSTGRES_HOST)"
            )
        if isinstance(item, asyncio.TimeoutError | TimeoutError):
            return Diagnosis(
                "the database did not answer in time",
                f"check that {address} is reachable (host, port, firewall) and not overloaded; "
                "DB_CONNECT_TIMEOUT and DB_STATEMENT_TIMEOUT bound each wait",
            )
        if "unable to open database file" in str(item):
            return sqlite_unopenable(target)
    return None


def short_cause(error: BaseException, target: str) -> str:
    """Return the cause of ``error`` in a few words ("connection refused"), for status pages."""
    diagnosis = diagnose(error, target)
    return diagnosis.cause if diagnosis is not None else type(error).__name__


def sqlite_unopenable(target: str, reason: str = "cannot open the SQLite file") -> Diagnosis:
    """Return the diagnosis of a SQLite file that cannot be opened or created."""
    try:
        path = make_url(target).database or target
    except ArgumentError:
        path = target
    return Diagnosis(
        reason,
        f"make sure the folder of {path} exists and this user may write there, "
        "or set SQLITE_PATH (or DATABASE_URL) to another file",
        permanent=True,
    )


def unavailable(diagnosis: Diagnosis, target: str) -> DatabaseUnavailable:
    """Return the three-line DatabaseUnavailable of ``diagnosis``: cause, target, what to try."""
    return DatabaseUnavailable(
        f"cannot use the database: {diagnosis.cause}\n  target: {target}\n  try: {diagnosis.hint}"
    )


def to_domain_error(error: BaseException, target: str) -> DatabaseError:
    """Translate a driver/SQLAlchemy exception into the domain error family."""
    kind = error_kind(error)
    cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0:1]
    detail = cause[0] if cause else type(error).__name__
    if kind == "pool_timeout":
        return DatabaseBusy(f"database busy: no free connection to {target} in time; try again")
    if kind == "too_many_connections":
        return DatabaseBusy(f"database {target} has too many connections; try again shortly")
    if kind == "database_locked":
        return DatabaseBusy(f"database {target} is locked by another writer; try again")
    diagnosis = diagnose(error, target)
    if diagnosis is not None:
        return unavailable(diagnosis, target)
    if kind in ("disconnect", "timeout"):
        return DatabaseUnavailable(f"database {target} is unavailable ({kind}): {detail}")
    return DatabaseError(f"database error on {target} ({kind}): {detail}")
