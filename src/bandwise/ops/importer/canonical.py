"""One canonical text per row, computed the same way in Python, in SQLite and in PostgreSQL.

Verification hashes every row on both sides: the importer over the converted source rows
(in Python, or built by SQLite's own SQL on the fast path, see ``sqlfast``), PostgreSQL over
the rows it stored. All build the same text: first the UTF-8 byte lengths of the row's text
and JSON values (``,``-separated, ``-`` for NULL), then every field, all separated by tabs
(as in a COPY line). Fields are written as COPY's text format writes them before escaping
(text and JSON as they are, timestamps as UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, dates as
``YYYY-MM-DD``, booleans ``t``/``f``, bands ``6.50``); NULL is ``-``. The lengths make the text
unambiguous whatever the values hold, and let SQLite's fast path hash the very text it sends
to COPY. The row's digest is the first 60 bits of the SHA-256 of that text, summed per table:
the sum does not depend on row order and changes when any value changes. SHA-256 rather than
md5: with the CPUs' SHA instructions (which OpenSSL uses on both sides) it hashes about twice
as fast, and the essays and feedback are most of the bytes imported.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

Kind = Literal["int", "text", "ts", "date", "bool", "band", "enum", "json"]

_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_ESCAPE_TABLE = {ord(key): value for key, value in _JSON_ESCAPES.items()}
_ESCAPE_TABLE.update(
    {code: f"\\u{code:04x}" for code in range(0x20) if chr(code) not in _JSON_ESCAPES}
)


def jsonb_text(value: Any) -> str:
    """Return ``value`` as PostgreSQL prints it back from jsonb (``jsonb::text``).

    Keys sorted by byte length then bytes (last duplicate wins), ``", "`` and ``": "``
    separators, numbers as PostgreSQL numeric text. Sending this text to a jsonb column and
    reading it back yields the same text, which is what the checksums rely on.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPE_TABLE) + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        return _numeric_text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted((str(key) for key in value), key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{jsonb_text(key)}: {jsonb_text(value[key])}" for key in keys) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _numeric_text(value: Decimal | float) -> str:
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not number.is_finite():
        raise ValueError(f"not a JSON number: {value!r}")
    text = format(number, "f")
    return text.lstrip("-") if number.is_zero() else text


SEPARATOR = "\t"
TEXT_KINDS = ("text", "json")


def field_text(kind: Kind, value: Any) -> str:
    """Return one field's canonical text (see the module docstring)."""
    if value is None:
        return "-"
    if kind in TEXT_KINDS:  # json: the converted row already holds the jsonb text
        return str(value)
    if kind == "int":
        return str(value)
    if kind == "ts":
        return _timestamp_text(value)
    if kind == "date":
        return _date_text(value)
    if kind == "bool":
        return "t" if value else "f"
    if kind == "band":  # numeric has no negative zero: -0.0 is stored, and read back, as 0
        return f"{abs(value) if value == 0 else value:.2f}"
    if kind == "enum":
        return str(value.value if isinstance(value, Enum) else value)
    raise ValueError(f"unknown column kind {kind!r}")


def _timestamp_text(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # 'YYYY-MM-DD HH:MM:SS.ffffff' without the '+00:00' that follows.
    return value.isoformat(" ", "microseconds")[:26]


def _date_text(value: date) -> str:
    return value.isoformat()


def octets(text: str | None) -> str:
    """Return the UTF-8 byte length of ``text`` as canonical text (``-`` for NULL)."""
    if text is None:
        return "-"
    # isascii() is a flag test on CPython's strings: no encoding for the usual ASCII text.
    return str(len(text) if text.isascii() else len(text.encode("utf-8")))


def canonical_text(kinds: tuple[Kind, ...], row: tuple[Any, ...]) -> str:
    """Return the canonical text of one converted row (see the module docstring)."""
    lengths = ",".join(
        octets(value) for kind, value in zip(kinds, row, strict=True) if kind in TEXT_KINDS
    )
    fields = (field_text(kind, value) for kind, value in zip(kinds, row, strict=True))
    return SEPARATOR.join((lengths, *fields))


def row_digest(kinds: tuple[Kind, ...], row: tuple[Any, ...]) -> int:
    """Return the 60-bit digest of one converted row."""
    return text_digest(canonical_text(kinds, row))


def text_digest(text: str) -> int:
    """Return the 60-bit digest of one row's canonical ``text``.

    The first 60 bits of its SHA-256: PostgreSQL's substr(encode(sha256(…), 'hex'), 1, 15)
    read as an integer.
    """
    return int.from_bytes(_sha256(text.encode()).digest()[:8], "big") >> 4


def bytes_digest(text: bytes) -> int:
    """Return :func:`text_digest` of the canonical text given as its UTF-8 bytes."""
    return int.from_bytes(_sha256(text).digest()[:8], "big") >> 4


_sha256 = hashlib.sha256


def _fast_field(kind: Kind, nullable: bool) -> Callable[[Any], str]:
    if kind in ("band", "enum", "int") or kind in TEXT_KINDS:
        # bands are quantized to 0.01: str() gives '6.50'
        return (lambda value: "-" if value is None else str(value)) if nullable else str
    if kind == "ts":
        if nullable:
            return lambda value: "-" if value is None else _timestamp_text(value)
        return _timestamp_text
    if kind == "date" and not nullable:
        return _date_text
    return lambda value: field_text(kind, value)


def row_digester(
    kinds: tuple[Kind, ...], nullable: tuple[bool, ...] | None = None
) -> Callable[[tuple[Any, ...]], int]:
    """Return a function computing :func:`row_digest` for rows of these kinds, faster.

    ``nullable``: per column, whether it may hold NULL (default: all may). Only for the
    columns that cannot is the NULL test left out.
    """
    formatters = tuple(
        _fast_field(kind, True if nullable is None else nullable[index])
        for index, kind in enumerate(kinds)
    )
    text_at = [index for index, kind in enumerate(kinds) if kind in TEXT_KINDS]
    text_values = operator.itemgetter(*text_at) if len(text_at) > 1 else None
    sha256 = hashlib.sha256
    join = SEPARATOR.join

    def lengths(row: tuple[Any, ...]) -> str:
        if text_values is not None:
            return ",".join(map(octets, text_values(row)))
        return octets(row[text_at[0]]) if text_at else ""

    def digest(row: tuple[Any, ...]) -> int:
        # The same text and the same 60 bits as row_digest, with C-level loops.
        text = lengths(row) + SEPARATOR + join(map(operator.call, formatters, row))
        return int.from_bytes(sha256(text.encode()).digest()[:8], "big") >> 4

    return digest


def sql_field(kind: Kind, column: str) -> str:
    """Return the SQL expression giving one column's canonical text on PostgreSQL."""
    quoted = f'"{column}"'
    expressions: dict[Kind, str] = {
        "text": quoted,
        "int": f"{quoted}::text",
        "ts": f"to_char({quoted} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "date": f"to_char({quoted}, 'YYYY-MM-DD')",
        "bool": f"CASE WHEN {quoted} THEN 't' ELSE 'f' END",
        "band": f"{quoted}::text",
        "enum": f"{quoted}::text",
        "json": f"{quoted}::text",
    }
    return f"coalesce({expressions[kind]}, '-')"


def sql_lengths(columns: tuple[tuple[str, Kind], ...]) -> str:
    """Return the SQL expression giving a row's text lengths part on PostgreSQL."""
    parts = [
        f"coalesce(octet_length(\"{name}\"{'::text' if kind == 'json' else ''})::text, '-')"
        for name, kind in columns
        if kind in TEXT_KINDS
    ]
    return " || ',' || ".join(parts) if parts else "''"


def sql_checksum(
    table: str, columns: tuple[tuple[str, Kind], ...], extra: tuple[str, ...] = ()
) -> str:
    """Return the query giving (row count, checksum sum, ``extra`` aggregates) of ``table``.

    ``table``: a table name, or a parenthesised subquery with its alias.
    ``extra``: further aggregates computed in the same scan of the table.
    """
    parts = [sql_lengths(columns), *(sql_field(kind, name) for name, kind in columns)]
    row_text = " || E'\\t' || ".join(parts)
    source = table if table.startswith(("(", '"')) else f'"{table}"'
    return (
        "SELECT count(*), coalesce(sum("
        f"('x' || substr(encode(sha256(convert_to({row_text}, 'UTF8')), 'hex'), 1, 15))"
        f"::bit(60)::bigint), 0){''.join(f', {aggregate}' for aggregate in extra)}"
        f" FROM {source}"
    )
