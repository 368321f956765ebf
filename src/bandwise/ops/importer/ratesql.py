"""The SQL path of ``rate_limits``: SQLite tests each row, Python only merges and writes text.

Rate-limit rows are short and many (one or more per active day of each user), so the Python
path's per-row costs (typed values, binary COPY encoding, a row at a time through the event
loop) made this table cost as much as the essays. Here one SQLite query tests each row for
the legacy bot's own spellings (the same conditions as the SQL fast path, ``sqlfast``) and
hands its values over as they are stored: canonical text is already what COPY and the
checksum take. Only rows failing a test (an odd spelling, a bad value, a Telegram id stored as
``user_id``, an orphan, a set-aside user) take the converter's careful path.

The merge of duplicate days and of the users' legacy counters is the converter's own
:class:`RateLimitMerger`, fed with text dates and timestamps instead of typed ones, over
the same batches in the same order: rows, ids, figures, checksums, transformations (and
their order) and bad rows come out exactly as on the Python path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from bandwise.ops.importer.canonical import SEPARATOR, bytes_digest
from bandwise.ops.importer.convert import RateLimitMerger
from bandwise.ops.importer.sqlfast import column_condition
from bandwise.ops.importer.tables import TableSpec

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter
    from bandwise.ops.importer.snapshot import Snapshot

_COLUMNS = ("id", "user_id", "submission_date", "submission_count", "created_at")


def uses_rate_sql_path(spec: TableSpec, source_columns: tuple[str, ...]) -> bool:
    """Tell whether ``spec``'s table is the legacy ``rate_limits`` read through this path."""
    return spec.name == "rate_limits" and spec.column_names == source_columns == _COLUMNS


def _text_row(row: tuple[Any, ...]) -> list[Any]:
    """Return a converted (typed) row with its date and timestamp as canonical text."""
    day: date = row[2]
    created: datetime = row[4]
    stamp = created.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    return [row[0], row[1], day.isoformat(), row[3], stamp]


class _TextMerger(RateLimitMerger):
    """The merger over text dates and timestamps (canonical text sorts as time does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        typed = self.counters
        self.counters = ((user, day.isoformat(), daily) for user, day, daily in typed)
        if self.pending is not None:
            user, day, daily = self.pending
            self.pending = (user, day.isoformat(), daily)

    def _new_row(self, user_id: int, day: Any, daily: int) -> tuple[Any, ...]:
        row = super()._new_row(user_id, date.fromisoformat(day), daily)
        return tuple(_text_row(row))


def rate_limit_text(
    snapshot: Snapshot,
    converter: Converter,
    spec: TableSpec,
    source_columns: tuple[str, ...],
    next_id: int,
) -> Iterator[bytes]:
    """Yield ``rate_limits`` as chunks of COPY text, merged as the Python path merges it."""
    figures = converter.report.figures(spec.name)
    orphans = converter.orphans.get(spec.name, set())
    set_aside = converter.set_aside["users"]
    canonical = " AND ".join(f"({column_condition(column)})" for column in spec.columns)
    order_by = (
        snapshot.repaired_user_order(spec.name, "user_id")
        if converter.repairs.get(spec.name)
        else "user_id, id"
    )
    merger = _TextMerger(converter, spec, iter(snapshot.user_counters()), next_id)
    for batch in snapshot.batches(spec.name, source_columns, order_by, extra=(canonical,)):
        rows: list[Any] = []
        fast = 0
        for raw in batch:
            if raw[5] and not (orphans and raw[0] in orphans) and raw[1] not in set_aside:
                rows.append(raw[:5])
                fast += 1
                continue
            careful = converter.convert_row(spec, source_columns, raw[:5], account=False)
            if careful is not None:
                rows.append(_text_row(careful))
        figures.source_rows += fast
        out: list[tuple[Any, ...]] = []
        for row in rows:
            out.extend(merger.add(row))
        yield _account(converter, spec, out)
    yield _account(converter, spec, merger.finish())


def _account(converter: Converter, spec: TableSpec, rows: list[tuple[Any, ...]]) -> bytes:
    """Return the rows as COPY text; count them and add their checksums (as ``_account``)."""
    figures = converter.report.figures(spec.name)
    figures.imported += len(rows)
    lines = [f"{row[0]}\t{row[1]}\t{row[2]}\t{row[3]}\t{row[4]}\n".encode() for row in rows]
    if converter.checksums:  # no text columns: the lengths part is empty
        separator = SEPARATOR.encode()
        figures.expected_checksum += sum(bytes_digest(separator + line[:-1]) for line in lines)
    return b"".join(lines)
