"""Hold an import mid-COPY on a signal: a trigger on the target waits for a lock the test holds.

A test that must act while the importer is inside its COPY (kill -9, a server restart) cannot
rely on polling for it: a COPY can begin and end between two polls. Here a row trigger on the
target table takes an advisory lock that the test holds, so the importer's COPY stops at its
first row, inside its transaction, until the gate is opened; the test waits until PostgreSQL
shows the importer waiting for that lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]

from testkit.waiting import wait_until_async

GATE_KEY = 715_517  # an advisory lock key of the tests' own (not the alerter's)
_FUNCTION = "bandwise_test_copy_gate"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def copy_gate(url: str, table: str = "submissions") -> AsyncIterator[asyncpg.Connection]:
    """Stop every COPY into ``table`` at its first row until the block ends (table must exist)."""
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", GATE_KEY)
        await connection.execute(
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$BEGIN PERFORM pg_advisory_xact_lock({GATE_KEY}); RETURN NEW; END$$"
        )
        await connection.execute(
            f'CREATE TRIGGER {_FUNCTION} BEFORE INSERT ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
        yield connection
    finally:
        # Closing opens the gate (a session lock); a server restart may have closed it already.
        connection.terminate()
        # The importer's transaction is over by now (killed, restarted or finished).
        cleanup = await asyncpg.connect(_plain(url))
        try:
            await cleanup.execute(f'DROP TRIGGER IF EXISTS {_FUNCTION} ON "{table}"')
            await cleanup.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
        finally:
            await cleanup.close()


async def wait_at_gate(gate: asyncpg.Connection, timeout: float = 120.0) -> None:
    """Wait until another backend waits for the gate's lock: an importer stopped mid-COPY."""

    async def waiting() -> bool:
        return bool(
            await gate.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = $1",
                GATE_KEY,
            )
        )

    await wait_until_async(waiting, timeout=timeout, what="the importer waits mid-COPY")
