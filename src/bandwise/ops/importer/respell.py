"""SQLite expressions giving one column's canonical text, respelling what converts without loss.

The SQL fast path (``sqlfast``) asks SQLite, per column, whether a legacy value converts
without judgment and, if so, for its canonical text. Besides the legacy bot's own spellings
this covers the odd ones the careful path (``values``) converts exactly and only notes: a
'T' date-time separator, a shorter or missing fraction of a second, an integer epoch, enum
names in another case, booleans and bands as text. For those, the column's code says which
note the careful path would make (0: none), and :class:`Respellings` turns a row's combined
code back into those notes, in column order. Anything else (NUL bytes, invalid UTF-8, out of
range, whitespace, other spellings) is left to the careful path.
"""

from __future__ import annotations

from dataclasses import dataclass

from bandwise.legacy import values as legacy
from bandwise.legacy.values import BAND_MAX, BAND_MIN
from bandwise.ops.importer.tables import ColumnSpec, TableSpec
from bandwise.ops.importer.values import Note

# The largest integer epoch read as seconds (above it, parse_datetime reads milliseconds).
EPOCH_SECONDS_MAX = 100_000_000_000
# Bits of a row's code per column: codes 0–3.
_CODE_BITS = 2
# The spellings parse_bool accepts once stripped and lowered (ASCII: SQLite's lower() agrees).
_TRUE_TEXTS = ("1", "true", "t", "yes", "y")
_FALSE_TEXTS = ("0", "false", "f", "no", "n")


@dataclass(frozen=True)
class ColumnSQL:
    """SQLite expressions for one column (``q`` its quoted name)."""

    canonical: str  # true when the value is exactly as the legacy bot wrote it
    convertible: str  # true when the text below is the converted value's (a superset)
    format: str  # printf format of the canonical text
    argument: str  # printf argument
    code: str = "0"  # which respelling applied: 0 none, n: ``notes[n - 1]``
    notes: tuple[str, ...] = ()  # the careful path's transformation kind per code


def literal(text: str) -> str:
    """Return ``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _plain_text(q: str) -> str:
    """Return the condition that ``q`` is text without a NUL byte.

    SQLite's length() and GLOB stop at a NUL byte, Python does not: such a value is left to
    the careful path (which removes it, or finds the rest no longer a valid spelling).
    """
    return f"typeof({q}) = 'text' AND instr(CAST({q} AS BLOB), x'00') = 0"


def _in(expression: str, texts: tuple[str, ...]) -> str:
    return f"{expression} IN ({', '.join(map(literal, texts))})"


def _respelled(
    q: str, canonical: str, spelled: str, format_: str, argument: str, code: str, note: str
) -> ColumnSQL:
    """Return a column's expressions where a ``spelled`` text is converted too (``note``).

    ``spelled`` must hold for every text ``canonical`` holds for. A CASE, not OR: SQLite
    evaluates both sides of an OR in a result column, and the text tests cost more.
    """
    convertible = f"CASE WHEN typeof({q}) = 'text' THEN {spelled} ELSE {canonical} END"
    return ColumnSQL(canonical, convertible, format_, argument, code, (note,))


def _int(q: str, column: ColumnSpec) -> ColumnSQL:
    condition = f"typeof({q}) = 'integer'"
    if column.bits < 64:  # SQLite's integers are 64-bit
        low, high = column.int_range
        condition += f" AND {q} BETWEEN {low} AND {high}"
    return ColumnSQL(condition, condition, "%d", q)


def _text(q: str, column: ColumnSpec) -> ColumnSQL:
    # printf's %s would stop at a NUL byte: such a value takes the careful path.
    condition = _plain_text(q)
    if column.max_length is not None:
        condition += f" AND length({q}) <= {column.max_length}"
    return ColumnSQL(condition, condition, "%s", q)


def _timestamp(q: str, column: ColumnSpec) -> ColumnSQL:
    canonical = (
        f"{_plain_text(q)} AND length({q}) = 26 AND substr({q}, 11, 1) = ' ' "
        f"AND substr({q}, 20, 1) = '.' AND substr({q}, 1, 4) <> '0000' "
        f"AND datetime(julianday(substr({q}, 1, 19))) = substr({q}, 1, 19) "
        f"AND substr({q}, 21) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]'"
    )
    # (The year is compared through substr(): a literal compared with a column of NUMERIC
    # affinity, as DateTime columns have, would be compared as the number 1.)
    # 'YYYY-MM-DD[ T]HH:MM:SS' then nothing, or '.'/',' and 1–9 digits (parse_datetime's
    # regular expression without offset and whitespace): the fraction is cut to 6 digits and
    # padded with zeros. Through julianday() (datetime() alone keeps a February 30th) SQLite
    # gives the first 19 characters back unchanged only for a real date and time written
    # with ASCII digits.
    seconds = f"substr({q}, 1, 10) || ' ' || substr({q}, 12, 8)"
    fraction = f"substr(substr({q}, 21) || '000000', 1, 6)"
    text = (
        f"{_plain_text(q)} AND length({q}) BETWEEN 19 AND 29 AND length({q}) <> 20 "
        f"AND substr({q}, 11, 1) IN (' ', 'T') AND substr({q}, 1, 4) <> '0000' "
        f"AND datetime(julianday({seconds})) = {seconds} "
        f"AND (length({q}) = 19 OR (substr({q}, 20, 1) IN ('.', ',') "
        f"AND substr({q}, 21) NOT GLOB '*[^0-9]*'))"
    )
    # An integer epoch in seconds (within parse_datetime's range for seconds): whole seconds.
    epoch = f"typeof({q}) = 'integer' AND {q} BETWEEN 0 AND {EPOCH_SECONDS_MAX}"
    argument = (
        f"CASE WHEN typeof({q}) = 'integer' "
        f"THEN strftime('%Y-%m-%d %H:%M:%S.000000', {q}, 'unixepoch') "
        f"WHEN length({q}) = 26 AND substr({q}, 11, 1) = ' ' AND substr({q}, 20, 1) = '.' "
        f"THEN {q} ELSE {seconds} || '.' || {fraction} END"
    )
    code = (
        f"CASE WHEN typeof({q}) = 'integer' THEN 2 "
        f"WHEN length({q}) = 26 AND substr({q}, 11, 1) = ' ' AND substr({q}, 20, 1) = '.' "
        "THEN 0 ELSE 1 END"
    )
    convertible = f"CASE WHEN typeof({q}) = 'integer' THEN {epoch} ELSE {text} END"
    return ColumnSQL(
        canonical, convertible, "%s", argument, code, ("datetime_respelled", "epoch_to_datetime")
    )


def _date(q: str, column: ColumnSpec) -> ColumnSQL:
    condition = (
        f"{_plain_text(q)} AND length({q}) = 10 AND substr({q}, 1, 4) <> '0000' "
        f"AND date(julianday({q})) = {q}"
    )
    return ColumnSQL(condition, condition, "%s", q)


def _bool(q: str, column: ColumnSpec) -> ColumnSQL:
    canonical = f"typeof({q}) = 'integer' AND {q} IN (0, 1)"
    # A text holding anything but these ASCII letters and digits is not lowered to one of them.
    spelled = f"{_plain_text(q)} AND {_in(f'lower({q})', _TRUE_TEXTS + _FALSE_TEXTS)}"
    argument = (
        f"CASE WHEN typeof({q}) = 'integer' THEN CASE {q} WHEN 1 THEN 't' ELSE 'f' END "
        f"WHEN {_in(f'lower({q})', _TRUE_TEXTS)} THEN 't' ELSE 'f' END"
    )
    return _respelled(
        q, canonical, spelled, "%s", argument, f"typeof({q}) = 'text'", "bool_from_text"
    )


def _enum(q: str, column: ColumnSpec) -> ColumnSQL:
    assert column.enum is not None
    names = column.enum_names
    canonical = _in(q, tuple(names))
    # Every lower-case spelling parse_enum accepts, with the member it gives (its own rule).
    spellings = {
        spelling: legacy.parse_enum(column.enum, spelling)
        for member in column.enum
        for spelling in (str(member.value), member.name.lower())
        if spelling.isascii() and spelling == spelling.strip().lower()
    }
    lowered = f"lower({q})"
    value = " ".join(
        f"WHEN {literal(s)} THEN {literal(str(m.value))}" for s, m in spellings.items()
    )
    name = " ".join(f"WHEN {literal(s)} THEN {literal(m.name)}" for s, m in spellings.items())
    return _respelled(
        q,
        canonical,
        f"{_plain_text(q)} AND {_in(lowered, tuple(spellings))}",
        "%s",
        f"CASE {lowered} {value} END",
        f"{q} IS NOT (CASE {lowered} {name} END)",
        "enum_respelled",
    )


def _band(q: str, column: ColumnSpec) -> ColumnSQL:
    # Quarter steps are exact in binary, so %.2f gives the exact NUMERIC(4, 2) text.
    canonical = (
        f"typeof({q}) IN ('real', 'integer') AND {q} BETWEEN {BAND_MIN} AND {BAND_MAX} "
        f"AND {q} * 4 = CAST({q} * 4 AS INTEGER)"
    )
    # Text of one digit and at most two decimals: the nearest double printed with %.2f gives
    # those very digits back.
    patterns = ("[0-9]", "[0-9].[0-9]", "[0-9].[0-9][0-9]")
    text = (
        f"{_plain_text(q)} AND ({' OR '.join(f'{q} GLOB {literal(p)}' for p in patterns)}) "
        f"AND CAST({q} AS REAL) BETWEEN {BAND_MIN} AND {BAND_MAX}"
    )
    return _respelled(q, canonical, text, "%.2f", q, f"typeof({q}) = 'text'", "band_from_text")


def _json(q: str, column: ColumnSpec) -> ColumnSQL:
    # Only a flat list of strings without escapes, written exactly as jsonb prints it
    # (and as the legacy bot's json.dumps wrote it): then the text is the jsonb text.
    condition = (
        f"CASE WHEN {_plain_text(q)} AND instr({q}, '\\') = 0 AND json_valid({q}) "
        f"THEN json_type({q}) = 'array' AND replace(json({q}), '\",\"', '\", \"') = {q} "
        f"AND NOT EXISTS (SELECT 1 FROM json_each({q}) WHERE type <> 'text') ELSE 0 END"
    )
    return ColumnSQL(condition, condition, "%s", q)


_BY_KIND = {
    "int": _int,
    "text": _text,
    "ts": _timestamp,
    "date": _date,
    "bool": _bool,
    "enum": _enum,
    "band": _band,
    "json": _json,
}


def column_sql(column: ColumnSpec) -> ColumnSQL:
    """Return the SQLite expressions of ``column`` (see :class:`ColumnSQL`)."""
    build = _BY_KIND.get(column.kind)
    if build is None:
        raise ValueError(f"no SQL fast path for {column.name} ({column.kind})")
    return build(f'"{column.name}"', column)


class Respellings:
    """A table's respellings: one SQL code per row, read back as the careful path's notes."""

    def __init__(self, spec: TableSpec, source_columns: tuple[str, ...]) -> None:
        self.columns: list[tuple[str, ColumnSQL]] = [
            (column.name, sql)
            for column in spec.columns
            if column.name in source_columns and (sql := column_sql(column)).notes
        ]
        self._notes: dict[int, tuple[Note, ...]] = {0: ()}

    def code(self) -> str:
        """Return the SQL expression giving a row's code (0: no respelling)."""
        parts = [f"(({sql.code}) << {_CODE_BITS * at})" for at, (_, sql) in enumerate(self.columns)]
        return " | ".join(parts) if parts else "0"

    def notes(self, code: int) -> tuple[Note, ...]:
        """Return the notes a row's ``code`` stands for, in column order."""
        notes = self._notes.get(code)
        if notes is None:
            mask = (1 << _CODE_BITS) - 1
            notes = self._notes[code] = tuple(
                Note(name, sql.notes[which - 1], "")
                for at, (name, sql) in enumerate(self.columns)
                if (which := (code >> (_CODE_BITS * at)) & mask)
            )
        return notes
