"""Hold a database lock from another connection while a test checks what bandwise reports."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bandwise.config import load_settings
from bandwise.db.engine import create_engine

# A writer's lock: other writers wait, readers go on (SQLite's write lock; on PostgreSQL the
# tables bandwise writes and the one the schema check reads, locked against every writer).
WRITER = {
    "sqlite": "BEGIN IMMEDIATE",
    "postgresql": "LOCK TABLE alembic_version, users, submissions IN EXCLUSIVE MODE",
}
# A lock readers wait for too: SQLite's exclusive lock (a rollback-journal file: a writer
# committing, or the legacy bot's long transaction), PostgreSQL's lock of a migration under way.
EVERYONE = {
    "sqlite": "BEGIN EXCLUSIVE",
    "postgresql": "LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE",
}


@asynccontextmanager
async def lock_held(database_url: str, statement: str) -> AsyncIterator[None]:
    """Run ``statement`` in a transaction of another connection; hold it while the block runs."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with _sqlite_lock_held(Path(url.database or ""), statement) as holder:
            await asyncio.to_thread(holder.wait_held)  # signalled once the lock is held
            yield
        return
    engine = create_engine(load_settings(database_url=database_url), null_pool=True)
    try:
        async with engine.connect() as holder:
            await holder.execute(text(statement))  # returns once the lock is granted
            yield
            await holder.rollback()
    finally:
        await engine.dispose()


class _SqliteHolder:
    """A thread whose sqlite3 connection takes a lock, signals it, and keeps it until told."""

    def __init__(self, path: Path, statement: str) -> None:
        self.held, self.release = threading.Event(), threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._hold, args=(path, statement), daemon=True)

    def _hold(self, path: Path, statement: str) -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(statement)
            self.held.set()
            self.release.wait()
            connection.execute("ROLLBACK")
        except BaseException as error:  # handed to the test by wait_held
            self.failure = error
        finally:
            self.held.set()
            connection.close()

    def wait_held(self) -> None:
        """Return once the lock is held (raise what stopped the holder from taking it)."""
        self.held.wait()
        if self.failure is not None:
            raise self.failure


@contextlib.contextmanager
def _sqlite_lock_held(path: Path, statement: str) -> Iterator[_SqliteHolder]:
    holder = _SqliteHolder(path, statement)
    holder.thread.start()
    try:
        yield holder
    finally:
        holder.release.set()
        holder.thread.join()
