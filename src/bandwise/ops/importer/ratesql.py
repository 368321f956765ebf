"""The SQL path of ``rate_limits``: SQLite tests each row's spellings; the table goes as COPY text.

Rate-limit rows are short and many (one or more per active day of each user), so the Python
path's per-row costs (the converter's checks, binary COPY encoding, a row at a time through
the event loop) made this small table cost as much as the essays. Here one SQLite query tests
each row for the legacy bot's own spellings (the same conditions as the SQL fast path,
``sqlfast``); a row that passes is parsed by two C-level calls. Only rows failing a test (an
odd spelling, a bad value, a Telegram id stored as ``user_id``, an orphan, a set-aside user)
take the converter's careful path. When no row needs it, SQLite merges the days and absorbs
the legacy counters itself, writing the COPY text in C (``ratemerged``: Python reads one row
per user and hashes the lines). Otherwise the merge of duplicate days and of the users' legacy
counters is the Python path's own (``ratelimits``), over the same batches in the same order.
Either way rows, ids, figures, checksums, transformations (and their order) and bad rows come
out exactly as on the Python path; the merged rows go to COPY as text in whole batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from bandwise.ops.importer.canonical import SEPARATOR, bytes_digest
from bandwise.ops.importer.ratelimits import RateLimitRow, merge_rate_limits
from bandwise.ops.importer.ratemerged import (
    drop_counters,
    load_counters,
    may_be_plain,
    merged_text,
    merged_users,
)
from bandwise.ops.importer.rowids import NO_REPAIRS
from bandwise.ops.importer.sqlfast import column_condition, report_repair
from bandwise.ops.importer.tables import TableSpec

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter
    from bandwise.ops.importer.snapshot import Snapshot


def uses_rate_sql_path(spec: TableSpec, source_columns: tuple[str, ...]) -> bool:
    """Tell whether ``spec``'s table is the legacy ``rate_limits`` read through this path."""
    return (
        spec.name == "rate_limits" and spec.column_names == source_columns == RateLimitRow._fields
    )


_parse_date = date.fromisoformat
_parse_stamp = datetime.fromisoformat


def _typed(raw: tuple[Any, ...]) -> RateLimitRow:
    """Return a canonical row (tested by SQLite) as the converted row it stands for."""
    return RateLimitRow(
        raw[0], raw[1], _parse_date(raw[2]), raw[3], _parse_stamp(raw[4]).replace(tzinfo=UTC)
    )


def _converted(
    snapshot: Snapshot, converter: Converter, spec: TableSpec, source_columns: tuple[str, ...]
) -> Iterator[list[Any]]:
    """Yield converted batches as ``Converter._convert_batches`` does, testing rows in SQLite."""
    figures = converter.report.figures(spec.name)
    orphans = converter.orphans.get(spec.name, frozenset())
    set_aside = converter.set_aside["users"]
    canonical = " AND ".join(f"({column_condition(column)})" for column in spec.columns)
    order_by = (
        snapshot.repaired_user_order(spec.name, "user_id")
        if converter.repairs.get(spec.name)
        else "user_id, id"
    )
    repairs = converter.repairs.get(spec.name, NO_REPAIRS)
    for batch in snapshot.batches(spec.name, source_columns, order_by, extra=(canonical,)):
        rows: list[Any] = []
        fast = 0
        for raw in batch:
            if raw[5] and not (orphans and raw[0] in orphans) and raw[1] not in set_aside:
                rows.append(_typed(raw))
                fast += 1
                continue
            if raw[5] and (repaired := repairs.get(raw[0])) is not None:
                report_repair(converter, spec.name, raw[0], "user_id", str(raw[1]), repaired)
                rows.append(_typed(raw)._replace(user_id=repaired))
                fast += 1
                continue
            careful = converter.convert_row(spec, source_columns, raw[:5], account=False)
            if careful is not None:
                rows.append(careful)
        figures.source_rows += fast
        yield rows


def rate_limit_text(
    snapshot: Snapshot,
    converter: Converter,
    spec: TableSpec,
    source_columns: tuple[str, ...],
    next_id: int,
    all_canonical: Callable[[], bool] | None,
) -> Iterator[bytes]:
    """Yield ``rate_limits`` as chunks of COPY text, merged as the Python path merges it.

    ``all_canonical`` tells whether every row is in the bot's own spelling (see
    :func:`all_canonical_ahead`; None: the converter already needs the Python merge).
    """
    if all_canonical is not None and may_be_plain(converter, spec) and all_canonical():
        with snapshot.reading("main", repair=False) as connection:
            try:
                if load_counters(connection, snapshot, converter):
                    with merged_users(connection) as users:
                        yield from merged_text(users, converter, next_id)
                    return
            finally:
                drop_counters(connection)
    converted = _converted(snapshot, converter, spec, source_columns)
    for rows in merge_rate_limits(converter, converted, snapshot.user_counters(), next_id):
        yield _account(converter, spec, rows)


def _line(row: RateLimitRow) -> bytes:
    """Return one row's COPY line: its canonical fields (no text columns, nothing to escape)."""
    stamp = row.created_at
    if stamp.tzinfo is not UTC:
        stamp = stamp.astimezone(UTC)
    return (
        f"{row.id}\t{row.user_id}\t{row.submission_date.isoformat()}\t{row.submission_count}"
        f"\t{stamp.isoformat(' ', 'microseconds')[:26]}\n"
    ).encode()


def _account(converter: Converter, spec: TableSpec, rows: list[RateLimitRow]) -> bytes:
    """Return the rows as COPY text; count them and add their checksums (as ``_account``)."""
    figures = converter.report.figures(spec.name)
    figures.imported += len(rows)
    lines = [_line(row) for row in rows]
    if converter.checksums:  # no text columns: the canonical text is "" + tab + the fields
        separator = SEPARATOR.encode()
        figures.expected_checksum += sum(bytes_digest(separator + line[:-1]) for line in lines)
    return b"".join(lines)
