"""Choose one instance to send alerts: a PostgreSQL advisory lock, or a file lock for SQLite.

The leader keeps its lock on a dedicated connection to PostgreSQL itself: a session-level lock
taken through PgBouncer's transaction pooling would stay on a server connection that PgBouncer
hands to other clients (who would then "hold" it too) while the leader's own later statements
run elsewhere, so behind PgBouncer the lock goes over ``DATABASE_DIRECT_URL``.

When the database goes away every lock goes with it, so the instance that led keeps leading
until it can ask again ("sticky"), which lets it report the outage; a follower only takes a
free lock after seeing it free twice, which gives the old leader the first chance to take it
back (and to send the "resolved" message). At start-up, when no leader was ever seen, a free
lock is taken at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# Any constant distinct from the migration lock's key; small so pg_locks shows it in objid.
ALERTER_LOCK_KEY = 0x42414C52  # "BALR"
LEADER_CHECK_TIMEOUT = 5.0


class AdvisoryLockLeader:
    """Leadership through ``pg_try_advisory_lock`` held on one dedicated connection."""

    def __init__(self, engine: AsyncEngine, key: int = ALERTER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None
        self._seen_free = False
        self._saw_other_leader = False
        self.is_leader = False

    async def refresh(self) -> bool:
        """Confirm or contest leadership; return whether this instance leads now."""
        try:
            await asyncio.wait_for(self._refresh(), LEADER_CHECK_TIMEOUT)
        except Exception as error:
            log.debug(
                "leader check failed (%s); staying %s",
                type(error).__name__,
                "leader" if self.is_leader else "follower",
            )
            await self._drop_connection()
        return self.is_leader

    async def _refresh(self) -> None:
        if self._connection is not None:
            await self._connection.execute(text("SELECT 1"))
            # End the implicit transaction: an idle-in-transaction leader would itself trip
            # the long-transaction alert. The session-level lock survives the commit.
            await self._connection.commit()
            return
        connection = await self._engine.connect()
        try:
            if not self.is_leader and not await self._free_twice(connection):
                await connection.close()
                return
            taken = bool(
                await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
                )
            )
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if taken:
            self._connection = connection
            if not self.is_leader:
                log.info("this instance now sends the alerts")
            self.is_leader = True
        else:
            await connection.close()
            self.is_leader = False

    async def _free_twice(self, connection: AsyncConnection) -> bool:
        held = bool(
            await connection.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND classid = 0 AND objid = :key AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()))"
                ),
                {"key": self._key},
            )
        )
        await connection.commit()
        was_seen_free, self._seen_free = self._seen_free, not held
        if held:
            self._saw_other_leader = True
            return False
        # At start-up nobody led before: take a free lock at once.
        return was_seen_free or not self._saw_other_leader

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    async def release(self) -> None:
        """Give up leadership (closing the connection releases the lock)."""
        await self._drop_connection()
        self.is_leader = False


class FileLockLeader:
    """Leadership through an exclusive ``flock`` on a file next to the SQLite database."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[str] | None = None
        self.is_leader = False

    async def refresh(self) -> bool:
        """Take the lock when it is free; return whether this instance leads."""
        return self._try_lock()

    def _try_lock(self) -> bool:
        if self._handle is not None:
            return True
        handle = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        self.is_leader = True
        return True

    async def release(self) -> None:
        """Release the lock."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.is_leader = False


Leader = AdvisoryLockLeader | FileLockLeader


def leader_for(engine: AsyncEngine) -> Leader:
    """Return the leadership mechanism that fits ``engine``'s database (never a pooler's)."""
    if engine.dialect.name == "sqlite":
        return FileLockLeader(Path(f"{engine.url.database}.alerter.lock"))
    return AdvisoryLockLeader(engine)


class LeaderCollector(Collector):
    """Expose whether this instance leads (sends the alerts), for /metrics."""

    def __init__(self, leader: Leader) -> None:
        self.leader = leader

    def collect(self) -> Iterator[Metric]:
        """Yield 1 while this instance leads, else 0."""
        yield GaugeMetricFamily(
            "bandwise_alerter_leader",
            "1 while this instance sends the alerts (one instance leads), else 0.",
            value=self.leader.is_leader,
        )
