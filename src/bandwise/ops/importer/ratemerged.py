"""The rate-limit merge done by SQLite, for a ``rate_limits`` table every row of which is plain.

When every row is in the legacy bot's canonical spelling and none needs the careful path (no
orphan, no set-aside user, no Telegram id to re-attach), SQLite's window functions give each
row its day's merged figures (the kept row: the lowest id; the summed count; the earliest
``created_at``: canonical timestamps compare as text). Python then only walks the rows to
report each merged duplicate and absorbs the users' legacy counters as ``ratelimits`` does, in
the same order (user, then id; a user's counter after that user's duplicates), so ids, rows,
figures, checksums and transformations are the Python path's. No row is parsed into objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bandwise.ops.importer.canonical import SEPARATOR, bytes_digest
from bandwise.ops.importer.ratelimits import TABLE, Counter, CounterQueue
from bandwise.ops.importer.sqlfast import column_condition
from bandwise.ops.importer.tables import TableSpec
from bandwise.ops.importer.values import RowState

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter
    from bandwise.ops.importer.snapshot import Snapshot

_DAY = "PARTITION BY user_id, submission_date"
# Per row: its day's kept id, summed count and earliest created_at.
_MERGED = (
    f"min(id) OVER ({_DAY})",
    f"sum(submission_count) OVER ({_DAY})",
    f"min(created_at) OVER ({_DAY})",
)


def all_plain(snapshot: Snapshot, converter: Converter, spec: TableSpec) -> bool:
    """Tell whether no row of ``spec``'s table needs the converter's careful path."""
    if converter.orphans.get(spec.name) or converter.repairs.get(spec.name):
        return False
    if converter.set_aside["users"]:
        return False
    canonical = " AND ".join(f"({column_condition(column)})" for column in spec.columns)
    query = f'SELECT EXISTS (SELECT 1 FROM "{spec.name}" WHERE NOT coalesce({canonical}, 0))'
    with snapshot.reading() as connection:
        return not connection.execute(query).fetchone()[0]


def merged_text(
    snapshot: Snapshot,
    converter: Converter,
    spec: TableSpec,
    source_columns: tuple[str, ...],
    next_id: int,
) -> Iterator[bytes]:
    """Yield ``rate_limits`` as COPY text, merged in SQLite (see :func:`all_plain`)."""
    merger = _Walk(converter, snapshot.user_counters(), next_id)
    batches = snapshot.batches(spec.name, source_columns, "user_id, id", extra=_MERGED)
    figures = converter.report.figures(spec.name)
    for batch in batches:
        figures.source_rows += len(batch)
        lines: list[str] = []
        for row in batch:
            merger.add(row, lines)
        yield _account(converter, spec, lines)
    lines = []
    merger.finish(lines)
    yield _account(converter, spec, lines)


class _Walk(CounterQueue):
    """Walk rows merged by SQLite in (user, id) order; absorb each user's legacy counter."""

    def __init__(self, converter: Converter, counters: Any, next_id: int) -> None:
        super().__init__(converter, counters, next_id)
        # The user's kept rows, by id: [id, day, count, created_at].
        self.kept: list[list[Any]] = []

    def add(self, row: tuple[Any, ...], lines: list[str]) -> None:
        """Take one row (id, user, day, count, created, kept id, total, earliest)."""
        row_id, user_id, day, _count, _created, kept_id, total, earliest = row
        if user_id != self.user_id:
            self._flush(lines)
            self.user_id = user_id
        if row_id == kept_id:
            self.kept.append([row_id, day, total, earliest])
            return
        self.figures.transformed += 1
        self.converter.note_now(
            RowState(TABLE, kept_id),
            "submission_count",
            "rate_limit_merged",
            f"duplicate row id={row_id} merged (counts summed)",
        )

    def _flush(self, lines: list[str]) -> None:
        user_id = self.user_id
        if user_id is None:
            return
        lines.extend(self._new_line(counter) for counter in self.before(user_id))
        counter = self.of(user_id)
        if counter is not None:
            day = counter.day.isoformat()
            kept = next((row for row in self.kept if row[1] == day), None)
            if kept is None:
                lines.append(self._new_line(counter))
            elif counter.daily > kept[2]:
                self.converter.note_now(
                    RowState(TABLE, kept[0]),
                    "submission_count",
                    "counter_raised",
                    f"users.daily_submissions={counter.daily} > {kept[2]}",
                )
                kept[2] = counter.daily
            else:
                self.converter.report.count(TABLE, "submission_count", "counter_absorbed")
        lines.extend(f"{i}\t{user_id}\t{day}\t{count}\t{at}" for i, day, count, at in self.kept)
        self.kept = []

    def _new_line(self, counter: Counter) -> str:
        # Created "at" the start of its day, as the Python path creates it.
        day = counter.day.isoformat()
        return f"{self.moved()}\t{counter.user_id}\t{day}\t{counter.daily}\t{day} 00:00:00.000000"

    def finish(self, lines: list[str]) -> None:
        """Add the last user's rows and the counters of users after it."""
        self._flush(lines)
        self.user_id = None
        lines.extend(self._new_line(counter) for counter in self.before(None))


def _account(converter: Converter, spec: TableSpec, lines: list[str]) -> bytes:
    """Return the lines as COPY text; count them and add their checksums."""
    figures = converter.report.figures(spec.name)
    figures.imported += len(lines)
    encoded = [line.encode() for line in lines]
    if converter.checksums:  # no text columns: the canonical text is "" + tab + the fields
        separator = SEPARATOR.encode()
        figures.expected_checksum += sum(bytes_digest(separator + line) for line in encoded)
    return b"".join(line + b"\n" for line in encoded)
