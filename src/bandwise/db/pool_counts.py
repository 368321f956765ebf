"""Count the connections an engine's pool opens, from the engine's creation on.

Metrics are attached later than the engine is made (after start-up already connected), so the
count lives with the engine itself: ``create_engine`` starts it, the metrics read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class ConnectionCounts:
    """Connections the engine's pool has opened."""

    created: int = 0


_COUNTS: WeakKeyDictionary[Engine, ConnectionCounts] = WeakKeyDictionary()


def _open_now(engine: Engine) -> int:
    pool: Any = engine.pool
    reads = (getattr(pool, "checkedin", None), getattr(pool, "checkedout", None))
    return sum(int(read()) for read in reads if read is not None)


def track_connections(engine: AsyncEngine) -> ConnectionCounts:
    """Start counting ``engine``'s new connections (once); return the running count.

    An engine that connected before counting started is credited with its open connections.
    """
    sync_engine = engine.sync_engine
    counts = _COUNTS.get(sync_engine)
    if counts is not None:
        return counts
    counts = ConnectionCounts(created=_open_now(sync_engine))
    _COUNTS[sync_engine] = counts

    def opened(*_: Any) -> None:
        counts.created += 1

    event.listen(sync_engine, "connect", opened)
    return counts
