"""The SQL fast path: SQLite itself writes the COPY fields of canonical rows.

Essays and feedback are most of what an import moves. For the tables holding them, one SQLite
query per table tests each row for the legacy bot's own spellings (the same conditions as the
Python fast path in ``fast``) and, for a row that passes, writes in C its canonical checksum
text (``canonical``) as bytes, whose fields are exactly the row's COPY fields before
escaping. Python then hashes that text, cuts off its lengths part, and escapes a whole batch
for COPY's text format with a few ``bytes.replace`` calls; it never unpacks a value. Every row
that does not pass (an odd spelling, a NUL byte, a tab in a value, invalid UTF-8, an orphan, a
set-aside parent) is read again by id and takes the converter's careful path, which repairs
and records what it changed; its converted values are written as a COPY line by
:func:`copy_line`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from bandwise.legacy.values import BAND_MAX, BAND_MIN
from bandwise.ops.importer.canonical import (
    SEPARATOR,
    TEXT_KINDS,
    Kind,
    bytes_digest,
    field_text,
    octets,
)
from bandwise.ops.importer.readahead import ReadAhead
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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _column_sql(column: ColumnSpec) -> tuple[str, str, str]:
    """Return (condition, printf format, printf argument) giving one column's canonical text."""
    q = f'"{column.name}"'
    kind = column.kind
    if kind == "int":
        condition = f"typeof({q}) = 'integer'"
        if column.bits < 64:  # SQLite's integers are 64-bit
            low, high = column.int_range
            condition += f" AND {q} BETWEEN {low} AND {high}"
        return condition, "%d", q
    if kind == "text":
        # printf's %s would stop at a NUL byte: such a value takes the careful path.
        condition = f"typeof({q}) = 'text' AND instr(CAST({q} AS BLOB), x'00') = 0"
        if column.max_length is not None:
            condition += f" AND length({q}) <= {column.max_length}"
        return condition, "%s", q
    if kind == "ts":
        condition = (
            f"typeof({q}) = 'text' AND length({q}) = 26 AND substr({q}, 11, 1) = ' ' "
            f"AND substr({q}, 20, 1) = '.' AND {q} >= '0001' "
            f"AND datetime(substr({q}, 1, 19)) = substr({q}, 1, 19) "
            f"AND substr({q}, 21) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]'"
        )
        return condition, "%s", q  # naive UTC: the COPY runs with TimeZone = UTC
    if kind == "date":
        condition = (
            f"typeof({q}) = 'text' AND length({q}) = 10 AND {q} >= '0001' AND date({q}) = {q}"
        )
        return condition, "%s", q
    if kind == "bool":
        condition = f"typeof({q}) = 'integer' AND {q} IN (0, 1)"
        return condition, "%s", f"CASE {q} WHEN 1 THEN 't' ELSE 'f' END"
    if kind == "enum":
        names = column.enum_names
        mapped = (
            f"CASE {q} "
            + " ".join(f"WHEN {_literal(n)} THEN {_literal(v)}" for n, v in names.items())
            + " END"
        )
        return f"{q} IN ({', '.join(_literal(name) for name in names)})", "%s", mapped
    if kind == "band":
        # Quarter steps are exact in binary, so %.2f gives the exact NUMERIC(4, 2) text.
        condition = (
            f"typeof({q}) IN ('real', 'integer') AND {q} BETWEEN {BAND_MIN} AND {BAND_MAX} "
            f"AND {q} * 4 = CAST({q} * 4 AS INTEGER)"
        )
        return condition, "%.2f", q
    if kind == "json":
        # Only a flat list of strings without escapes, written exactly as jsonb prints it
        # (and as the legacy bot's json.dumps wrote it): then the text is the jsonb text.
        condition = (
            f"CASE WHEN typeof({q}) = 'text' AND instr({q}, '\\') = 0 "
            f"AND instr(CAST({q} AS BLOB), x'00') = 0 AND json_valid({q}) "
            f"THEN json_type({q}) = 'array' AND replace(json({q}), '\",\"', '\", \"') = {q} "
            f"AND NOT EXISTS (SELECT 1 FROM json_each({q}) WHERE type <> 'text') ELSE 0 END"
        )
        return condition, "%s", q
    raise ValueError(f"no SQL fast path for {column.name} ({kind})")


def column_condition(column: ColumnSpec) -> str:
    """Return the SQLite condition true when ``column``'s value is in canonical legacy form."""
    return _column_sql(column)[0]


def fast_query(spec: TableSpec, source_columns: tuple[str, ...]) -> str:
    """Return the query yielding (id, parent id, canonical?, canonical text as bytes) by id.

    The text is built for every row but means something only where ``canonical?`` is 1 (each
    expression is evaluated once per row). One printf builds it: concatenating with ``||``
    would copy each long value once per later field. No column comes back as text, so
    SQLite never decodes (invalid UTF-8 is found in Python, and such a row goes careful).
    """
    conditions: list[str] = []
    lengths: list[str] = []
    formats: list[str] = []
    arguments: list[str] = []
    for column in spec.columns:
        if column.name in source_columns:
            condition, format_, argument = _column_sql(column)
            conditions.append(f"({condition})")
            formats.append(format_)
            arguments.append(argument)
            if column.kind in TEXT_KINDS:
                lengths.append(f'length(CAST("{column.name}" AS BLOB))')
        else:  # a constant default: its texts are known here
            formats.append(field_text(column.kind, column.default).replace("%", "%%"))
            if column.kind in TEXT_KINDS:
                lengths.append(_literal(octets(column.default)))
    length_formats = ",".join("%s" for _ in lengths)
    template = SEPARATOR.join([length_formats, *formats])
    parent = "NULL"
    if spec.parent:
        key = f'"{spec.parent[0]}"'
        parent = f"CASE WHEN typeof({key}) = 'integer' THEN {key} END"
    return (
        f"SELECT id, {parent}, {' AND '.join(conditions)}, "
        f"CAST(printf({', '.join([_literal(template), *lengths, *arguments])}) AS BLOB) "
        f'FROM "{spec.name}" ORDER BY id'
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


FastRow = tuple[int, Any, Any, bytes | None]


def fast_rows(
    connection: sqlite3.Connection, query: str, batch_rows: int
) -> Iterator[list[FastRow]]:
    """Yield the fast query's rows in batches."""
    cursor = connection.execute(query)
    while batch := cursor.fetchmany(batch_rows):
        yield batch


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
    orphans: set[Any],
    set_aside: set[int] | None,
    careful: Callable[[int], str | None],
    suffixes: tuple[bytes, bytes] = (b"", b""),
    repair: Repair | None = None,
) -> tuple[bytes, int, int]:
    """Return (COPY text, checksum sum, rows taken fast) of one batch of the fast query.

    ``columns``: the table's column count. ``careful(id)`` converts a row on the careful
    path, returning its escaped COPY line (None when set aside); it does its own accounting.
    ``suffixes``: the absent tail's canonical and COPY texts (``null_suffixes``).
    ``repair``: re-attaches a canonical row whose parent column holds a user's Telegram id
    (see :class:`Repair`) instead of sending it to the careful path.
    """
    taken: list[tuple[int, bytes]] = []
    careful_lines: list[str] = []
    for row_id, parent, canonical, text in batch:
        if (
            canonical
            and text is not None
            and not (orphans and row_id in orphans)
            and not (set_aside and parent in set_aside)
        ):
            taken.append((row_id, text))
        elif (
            repair is not None
            and canonical
            and text is not None
            and (repaired := repair.text(row_id, text, columns)) is not None
        ):
            taken.append((row_id, repaired))
        elif (line := careful(row_id)) is not None:
            careful_lines.append(line)
    texts = [text for _, text in taken]
    # One look over the whole batch; only when it finds something is each row looked at.
    if not _clean(texts, columns):
        texts = []
        for row_id, text in taken:
            if _clean([text], columns):
                texts.append(text)
            elif (line := careful(row_id)) is not None:
                careful_lines.append(line)
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
    """Re-attach canonical rows whose parent column holds a user's Telegram id, in SQL text.

    The legacy bot's handlers stored the Telegram id as ``user_id``; the careful path
    re-attaches such a row to the user it names and lists the change. A row otherwise in
    canonical form gets the same here without being read again: its parent field is
    rewritten in the canonical text and the same transformation is reported (``note``), at
    the place in the batch where the careful path would have reported it.
    """

    def __init__(
        self, repairs: dict[Any, int], field: int, note: Callable[[int, bytes, int], None]
    ) -> None:
        self.repairs = repairs
        self.field = field  # the parent's field in the canonical text (0: the lengths part)
        self.note = note

    def text(self, row_id: int, text: bytes, columns: int) -> bytes | None:
        """Return the row's text re-attached (transformation reported), or None: careful."""
        repaired = self.repairs.get(row_id)
        # A row needing the careful path anyway keeps all its changes together there.
        if repaired is None or not _clean([text], columns):
            return None
        fields = text.split(b"\t", self.field + 1)
        stored = fields[self.field]
        fields[self.field] = str(repaired).encode()
        self.note(row_id, stored, repaired)
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
    column = spec.parent[0]

    def note(row_id: int, stored: bytes, repaired: int) -> None:
        report_repair(converter, spec.name, row_id, column, stored.decode(), repaired)

    return Repair(repairs, 1 + spec.column_names.index(column), note)


def report_repair(
    converter: Converter, table: str, row_id: int, column: str, stored: str, repaired: int
) -> None:
    """Report a row re-attached from a Telegram id as the careful path's parent check does."""
    converter.note_now(
        RowState(table, row_id),
        column,
        "user_id_from_telegram_id",
        f"{column}={stored} is the Telegram id of users.id={repaired}",
    )
    converter.report.figures(table).transformed += 1


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
    orphans = converter.orphans.get(spec.name, set())
    set_aside = converter.set_aside.get(spec.parent[1]) if spec.parent else None
    columns = len(spec.columns)
    suffixes = null_suffixes(spec, source_columns)
    select = ", ".join(f'"{name}"' for name in source_columns)
    by_id = f'SELECT {select} FROM "{spec.name}" WHERE id = ?'
    # SQLite builds the next batches (without the GIL) while this one is hashed.
    with (
        snapshot.reading("rows") as lookup,
        snapshot.reading("main", repair=False) as connection,
        ReadAhead(fast_rows(connection, fast_query(spec, source_columns), batch_rows)) as batches,
    ):

        def careful(row_id: int) -> str | None:
            raw = lookup.execute(by_id, (row_id,)).fetchone()
            row = converter.convert_row(spec, source_columns, raw)
            return None if row is None else copy_line(spec.kinds, row)

        for batch in batches:
            text, checksum, fast = lines_of_batch(
                batch, columns, orphans, set_aside, careful, suffixes, _repair(converter, spec)
            )
            figures.source_rows += fast
            figures.imported += fast
            if converter.checksums:
                figures.expected_checksum += checksum
            if text:
                yield text
