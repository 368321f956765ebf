"""Open the source and start its integrity check before the rest of the importer is loaded.

Loading the importer (SQLAlchemy, the models, Alembic, asyncpg) keeps one core busy for most
of a second while nothing else can run; SQLite's ``PRAGMA integrity_check`` releases the
interpreter and needs seconds of the other core on a large file. The CLI therefore takes the
held snapshot and starts the check first, then loads the importer and hands this head start
to :func:`~bandwise.ops.importer.import_sqlite`, which uses the snapshot as its own. Only the
standard library and light modules are imported here.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bandwise.ops.importer.snapshot import Snapshot, check_integrity, hold_snapshot


@dataclass
class HeadStart:
    """A held snapshot of the source and its integrity check, running in a thread."""

    snapshot: Snapshot
    started: float  # time.perf_counter() when the head start began
    check: concurrent.futures.Future[float] = field(repr=False)  # the check's seconds

    def close(self) -> None:
        """Stop or await the integrity check, then end the held read transactions; idempotent.

        A check still running (the command failed before the import used it) is interrupted.
        """
        if not self.check.done():
            self.snapshot.interrupt("check")
        with contextlib.suppress(BaseException):
            self.check.exception()  # waits: the check reads through the snapshot
        self.snapshot.close()


@contextlib.contextmanager
def head_start(source: Path, *, copied: bool) -> Iterator[HeadStart | None]:
    """Hold ``source`` and start its integrity check; yield None when it must be copied.

    ``copied``: the import reads a copy (``--copy-source``, ``--worker-process``), which it
    makes itself. A WAL file is copied too (no head start). Closes whatever is left on exit.
    Raises InvalidInput naming the file for a missing, non-SQLite or locked source.
    """
    started = time.perf_counter()
    snapshot = None if copied else hold_snapshot(source)
    if snapshot is None:
        yield None
        return
    with concurrent.futures.ThreadPoolExecutor(1, "import-integrity") as pool:
        early = HeadStart(snapshot, started, pool.submit(check_integrity, snapshot))
        try:
            yield early
        finally:
            early.close()
