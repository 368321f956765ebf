"""The SQL fast path: SQLite itself writes the COPY fields of the rows it can convert.

Essays and feedback are most of what an import moves. For the tables holding them, one SQLite
query per table tests each row for the spellings it converts without judgment (the legacy
bot's own, and the odd ones ``respell`` rewrites: a 'T' separator, an epoch, an enum name
in another case, ...) and, for a row that passes, writes in C its canonical checksum text
(``canonical``) as bytes, whose fields are exactly the row's COPY fields before escaping,
with a code naming the respellings applied; Python reports those as the careful path would
note them. Python then hashes that text, cuts off its lengths part, and escapes a whole
batch for COPY's text format with a few ``bytes.replace`` calls; it never unpacks a value.
The rows that do not pass (a NUL byte, a tab in a value, invalid UTF-8, a bad value, an
orphan, a set-aside parent) are read again, a batch's in one query, and take the
converter's careful path, which repairs and records what it changed; its converted values
are written as a COPY line by :func:`copy_line`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from bandwise.ops.importer.canonical import (
    SEPARATOR,
    TEXT_KINDS,
    Kind,
    bytes_digest,
    field_text,
    octets,
)
from bandwise.ops.importer.respell import Respellings, column_sql, literal
from bandwise.ops.importer.rowids import RowIdMap
from bandwise.ops.importer.sqlpages import FastRow, fast_rows
from bandwise.ops.importer.tables import MISSING, ColumnSpec, TableSpec
from bandwise.ops.importer.values import RowState

if TYPE_CHECKING:
    from bandwise.ops.importer.convert import Converter
    from bandwise.ops.importer.snapshot import Snapshot

# Tables read through the SQL path: the long rows. users and rate_limits stay on the Python
# path: their short rows cost less in Python than the SQL tests would (measured for
# rate_limits, whose duplicate and counter checks need a lookup per row: 30 % slower).
SQL_TABLES = ("submissions", "assessments")
# Rows per batch: about 1 MB of essays or feedback. A batch is copied a few times on its way
# (joined, escaped), and a few batches wait in queues: small batches keep memory low.
TEXT_BATCH_ROWS = 500
_TEXT_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))
# Tabs are not among them: a value holding one takes the careful path (see _clean).
_BYTE_ESCAPES = ((b"\\", b"\\\\"), (b"\n", b"\\n"), (b"\r", b"\\r"))


def uses_sql_path(spec: TableSpec, source_columns: tuple[str, ...]) -> bool:
    """Tell whether ``spec``'s table is read through the SQL fast path (then COPY'd as text)."""
    if spec.name not in SQL_TABLES or not source_columns:
        return False
    absent = _absent_tail(spec, source_columns)
    return all(
        column in absent
        or (
            not column.nullable and (column.name in source_columns or column.default is not MISSING)
        )
        for column in spec.columns
    )


def _absent_tail(spec: TableSpec, source_columns: tuple[str, ...]) -> tuple[ColumnSpec, ...]:
    """Return the columns at the end of ``spec`` that the source lacks and that have defaults.

    Columns added by later revisions (a legacy file has none of them) sit there; being last,
    their constant texts form a fixed suffix of every row's text (see ``null_suffixes``).
    """
    tail: list[ColumnSpec] = []
    for column in reversed(spec.columns):
        if column.name in source_columns or column.default is MISSING:
            break
        tail.append(column)
    return tuple(reversed(tail))


def null_suffixes(spec: TableSpec, source_columns: tuple[str, ...]) -> tuple[bytes, bytes]:
    """Return the absent tail's fields as canonical text and as COPY text (NULL: ``-``/``\\N``).

    The fast query writes the canonical text; the COPY line swaps this suffix for COPY's.
    """
    tail = _absent_tail(spec, source_columns)
    canonical = "".join("\t" + field_text(c.kind, c.default) for c in tail)
    copy = "".join("\t" + copy_field(c.kind, c.default) for c in tail)
    return canonical.encode(), copy.encode()


def column_condition(column: ColumnSpec) -> str:
    """Return the SQLite condition true when ``column``'s value is in canonical legacy form."""
    return column_sql(column).canonical


def fast_columns(spec: TableSpec, source_columns: tuple[str, ...]) -> str:
    """Return the fast query's columns: (id, parent id, convertible?, code, canonical text).

    The text is built for every row but means something only where ``convertible?`` is 1
    (each expression is evaluated once per row); ``code`` names the respellings it applied
    (:class:`Respellings`). One printf builds it: concatenating with ``||`` would copy each
    long value once per later field. No column comes back as text, so SQLite never decodes
    (invalid UTF-8 is found in Python, and such a row goes careful).
    """
    conditions: list[str] = []
    lengths: list[str] = []
    formats: list[str] = []
    arguments: list[str] = []
    for column in spec.columns:
        if column.name in source_columns:
            sql = column_sql(column)
            conditions.append(f"({sql.convertible})")
            formats.append(sql.format)
            arguments.append(sql.argument)
            if column.kind in TEXT_KINDS:
                lengths.append(f'length(CAST("{column.name}" AS BLOB))')
        else:  # a constant default: its texts are known here
            formats.append(field_text(column.kind, column.default).replace("%", "%%"))
            if column.kind in TEXT_KINDS:
                lengths.append(literal(octets(column.default)))
    length_formats = ",".join("%s" for _ in lengths)
    template = SEPARATOR.join([length_formats, *formats])
    parent = "NULL"
    if spec.parent:
        key = f'"{spec.parent[0]}"'
        parent = f"CASE WHEN typeof({key}) = 'integer' THEN {key} END"
    return (
        f"id, {parent}, {' AND '.join(conditions)}, "
        f"{Respellings(spec, source_columns).code()}, "
        f"CAST(printf({', '.join([literal(template), *lengths, *arguments])}) AS BLOB)"
    )


def copy_field(kind: Kind, value: Any) -> str:
    """Return one converted value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if kind in TEXT_KINDS:
        text = str(value)
        for plain, escaped in _TEXT_ESCAPES:
            text = text.replace(plain, escaped)
        return text
    if kind == "ts":
        assert isinstance(value, datetime)
        return value.isoformat(sep=" ")
    if kind == "bool":
        return "t" if value else "f"
    if kind == "band":
        return f"{Decimal(value):.2f}"
    if kind == "enum":
        return str(value.value if isinstance(value, Enum) else value)
    if kind == "date":
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def copy_line(kinds: tuple[Kind, ...], row: tuple[Any, ...]) -> str:
    """Return one converted row as a line of COPY text (without its newline)."""
    return "\t".join(copy_field(kind, value) for kind, value in zip(kinds, row, strict=True))


# Converts rows by id on the careful path, in order, yielding each one's escaped COPY line
# (None when set aside) as it is taken; it does its own accounting.
Careful = Callable[[list[int]], Iterator[str | None]]
# Reports a fast row's notes: (id, parent id as stored, respelling code, re-attached parent).
Report = Callable[[int, Any, int, "int | None"], None]


def _is_utf8(data: bytes) -> bool:
    if data.isascii():  # word-at-a-time in C: the usual case costs almost nothing
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _clean(texts: list[bytes], columns: int) -> bool:
    """Tell whether these canonical texts are valid UTF-8 cut into fields by their tabs alone.

    ``columns`` tabs per text (after the lengths part and between fields) means no value
    holds a tab; no NUL byte (PostgreSQL text cannot hold one) and no U+001E (used as the row
    separator while escaping) either.
    """
    data = b"".join(texts)
    return (
        b"\x00" not in data
        and b"\x1e" not in data
        and data.count(b"\t") == columns * len(texts)
        and _is_utf8(data)
    )


def lines_of_batch(
    batch: list[FastRow],
    columns: int,
    orphans: frozenset[Any],
    set_aside: set[int] | None,
    careful: Careful,
    report: Report,
    suffixes: tuple[bytes, bytes] = (b"", b""),
    repair: Repair | None = None,
) -> tuple[bytes, int, int]:
    """Return (COPY text, checksum sum, rows taken fast) of one batch of the fast query.

    ``columns``: the table's column count. ``careful`` converts the rows SQLite could not;
    ``report`` notes a fast row's respellings and re-attachment, at the place in the batch
    where the careful path would have noted them (rows are reported in id order).
    ``suffixes``: the absent tail's canonical and COPY texts (``null_suffixes``).
    ``repair``: re-attaches a convertible row whose parent column holds a user's Telegram id
    (see :class:`Repair`) instead of sending it to the careful path.
    """
    # (id, stored parent, code, re-attached parent, text; None: careful)
    plan: list[tuple[int, Any, int, int | None, bytes | None]] = []
    for row_id, parent, convertible, code, text in batch:
        repaired = None
        if not convertible:
            text = None
        elif (orphans and row_id in orphans) or (set_aside and parent in set_aside):
            repaired = None if repair is None else repair.repairs.get(row_id)
            if repaired is None:
                text = None
        plan.append((row_id, parent, code, repaired, text))
    # One look over the whole batch; only when it finds something is each row looked at.
    if not _clean([entry[4] for entry in plan if entry[4] is not None], columns):
        plan = [
            (*entry[:4], None if entry[4] is None or not _clean([entry[4]], columns) else entry[4])
            for entry in plan
        ]
    converted = careful([entry[0] for entry in plan if entry[4] is None])
    texts: list[bytes] = []
    careful_lines: list[str] = []
    for row_id, parent, code, repaired, text in plan:
        if text is None:
            if (line := next(converted)) is not None:
                careful_lines.append(line)
            continue
        if repaired is not None:
            assert repair is not None
            text = repair.text(text, repaired)
        if code or repaired is not None:
            report(row_id, parent, code, repaired)
        texts.append(text)
    checksum = sum(map(bytes_digest, texts))
    canonical_tail, copy_tail = suffixes
    if canonical_tail == copy_tail:
        body = _copy_body([text[text.index(b"\t") + 1 :] for text in texts])
    else:  # NULLs in the tail: "-" in the checksum text, \N in COPY (after escaping)
        cut = len(canonical_tail)
        body = _copy_body([text[text.index(b"\t") + 1 : len(text) - cut] for text in texts])
        body = body.replace(b"\n", copy_tail + b"\n")
    tail = "".join(line + "\n" for line in careful_lines).encode()
    return body + tail, checksum, len(texts)


class Repair:
    """Re-attach rows whose parent column holds a user's Telegram id, in their SQL text.

    The legacy bot's handlers stored the Telegram id as ``user_id``; the careful path
    re-attaches such a row to the user it names and lists the change. A row SQLite could
    convert gets the same here without being read again: its parent field is rewritten in
    the canonical text (the transformation is reported with the row's other notes).
    """

    def __init__(self, repairs: RowIdMap, field: int) -> None:
        self.repairs = repairs
        self.field = field  # the parent's field in the canonical text (0: the lengths part)

    def text(self, text: bytes, repaired: int) -> bytes:
        """Return the row's canonical text with ``repaired`` as its parent."""
        fields = text.split(b"\t", self.field + 1)
        fields[self.field] = str(repaired).encode()
        return b"\t".join(fields)


def _copy_body(lines: list[bytes]) -> bytes:
    """Join tab-separated lines of raw values into COPY text, escaping the values."""
    if not lines:
        return b""
    body = b"\x1e".join(lines)  # rows apart while newlines in values are escaped
    for plain, escaped in _BYTE_ESCAPES:
        if plain in body:  # memchr: a value needing no escape costs almost nothing
            body = body.replace(plain, escaped)
    return body.replace(b"\x1e", b"\n") + b"\n"


def _repair(converter: Converter, spec: TableSpec) -> Repair | None:
    """Return the re-attachment of ``spec``'s Telegram-id rows (None: the table has none)."""
    repairs = converter.repairs.get(spec.name)
    if not repairs or spec.parent is None:
        return None
    return Repair(repairs, 1 + spec.column_names.index(spec.parent[0]))


def repair_note(column: str, stored: Any, repaired: int) -> tuple[str, str, str]:
    """Return the note of a row re-attached from a Telegram id, as the parent check makes it."""
    return (
        column,
        "user_id_from_telegram_id",
        f"{column}={stored} is the Telegram id of users.id={repaired}",
    )


def report_repair(
    converter: Converter, table: str, row_id: int, column: str, stored: str, repaired: int
) -> None:
    """Report a row re-attached from a Telegram id as the careful path's parent check does."""
    converter.note_now(RowState(table, row_id), *repair_note(column, stored, repaired))
    converter.report.figures(table).transformed += 1


def _reporter(converter: Converter, spec: TableSpec, source_columns: tuple[str, ...]) -> Report:
    """Return the report of a fast row's notes: respellings in column order, then the parent."""
    respellings = Respellings(spec, source_columns)
    figures = converter.report.figures(spec.name)
    parent_column = spec.parent[0] if spec.parent else ""

    state = RowState(spec.name, None)  # one for all rows: reporting empties its notes

    def report(row_id: int, parent: Any, code: int, repaired: int | None) -> None:
        state.source_id = row_id
        state.notes.extend(respellings.notes(code))
        if repaired is not None:
            state.note(*repair_note(parent_column, parent, repaired))
        converter.report_notes(state)
        figures.transformed += 1

    return report


def _careful(
    lookup: sqlite3.Connection,
    converter: Converter,
    spec: TableSpec,
    source_columns: tuple[str, ...],
) -> Careful:
    """Return the careful path of ``spec``'s rows by id: one query per batch reads them all."""
    select = ", ".join(f'"{name}"' for name in source_columns)
    by_ids = f'SELECT {select} FROM "{spec.name}" WHERE id IN (SELECT value FROM json_each(?))'
    by_id = f'SELECT {select} FROM "{spec.name}" WHERE id = ?'
    id_at = source_columns.index("id")

    def careful(ids: list[int]) -> Iterator[str | None]:
        if not ids:
            return
        raws = {raw[id_at]: raw for raw in lookup.execute(by_ids, (json.dumps(ids),))}
        for row_id in ids:
            raw = raws.get(row_id)
            if raw is None:  # an id json_each does not give back as it is (not an integer)
                raw = lookup.execute(by_id, (row_id,)).fetchone()
            row = converter.convert_row(spec, source_columns, raw)
            yield None if row is None else copy_line(spec.kinds, row)

    return careful


def text_batches(
    snapshot: Snapshot,
    converter: Converter,
    spec: TableSpec,
    source_columns: tuple[str, ...],
    batch_rows: int,
) -> Iterator[bytes]:
    """Yield ``spec``'s table as chunks of COPY text, converting on the SQL path where it can.

    The converter's figures, checksums, transformations and bad rows come out exactly as on
    the Python path.
    """
    figures = converter.report.figures(spec.name)
    orphans = converter.orphans.get(spec.name, frozenset())
    set_aside = converter.set_aside.get(spec.parent[1]) if spec.parent else None
    columns = len(spec.columns)
    suffixes = null_suffixes(spec, source_columns)
    report = _reporter(converter, spec, source_columns)
    # SQLite builds the next batches (without the GIL, on two threads) while this one is hashed.
    with (
        snapshot.reading("rows") as lookup,
        snapshot.reading("main", repair=False) as connection,
        snapshot.reading("pages", repair=False) as helper,
        # Closed (its threads stopped) before the connections they read on go.
        contextlib.closing(
            fast_rows(
                (connection, helper), spec.name, fast_columns(spec, source_columns), batch_rows
            )
        ) as batches,
    ):
        careful = _careful(lookup, converter, spec, source_columns)
        for batch in batches:
            text, checksum, fast = lines_of_batch(
                batch,
                columns,
                orphans,
                set_aside,
                careful,
                report,
                suffixes,
                _repair(converter, spec),
            )
            figures.source_rows += fast
            figures.imported += fast
            if converter.checksums:
                figures.expected_checksum += checksum
            if text:
                yield text
