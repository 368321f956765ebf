"""Classify driver exceptions into transient and permanent, and into domain errors."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import exc as sa_exc

from bandwise.errors import DatabaseBusy, DatabaseError, DatabaseUnavailable

# SQLSTATEs worth retrying: serialization failure, deadlock, and the server going away.
RETRYABLE_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"}
)
TOO_MANY_CONNECTIONS = frozenset({"53300"})


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
    if kind in ("disconnect", "timeout"):
        return DatabaseUnavailable(f"database {target} is unavailable ({kind}): {detail}")
    return DatabaseError(f"database error on {target} ({kind}): {detail}")
