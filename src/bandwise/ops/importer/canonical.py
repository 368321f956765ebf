"""One canonical text per row, computed the same way in Python and in PostgreSQL SQL.

Verification hashes every row on both sides: Python over the converted source rows, PostgreSQL
over the rows it stored. Both build the same text (``|``-separated fields; text and JSON as the
hex SHA-256 of their UTF-8 text, so no separator is ambiguous and PostgreSQL reads each stored
value once; NULL as ``-``), take its md5, and sum the first 60 bits of each digest per table.
The sum does not depend on row order and changes when any value changes. SHA-256 rather than
md5 for the long values: with the CPUs' SHA instructions (used by OpenSSL on both sides) it
hashes about twice as fast, and the essays and feedback are most of the bytes imported.
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

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
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


def field_text(kind: Kind, value: Any) -> str:
    """Return one field's canonical text (see the module docstring)."""
    if value is None:
        return "-"
    if kind in ("text", "json"):  # json: the converted row already holds the jsonb text
        return _text_hex(value)
    if kind == "int":
        return str(value)
    if kind == "ts":
        return str((value - _EPOCH) // _MICROSECOND)
    if kind == "date":
        return str(value.toordinal() - _EPOCH_ORDINAL)
    if kind == "bool":
        return "1" if value else "0"
    if kind == "band":
        return f"{value:.2f}"
    if kind == "enum":
        return str(value.value if isinstance(value, Enum) else value)
    raise ValueError(f"unknown column kind {kind!r}")


def _text_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_digest(kinds: tuple[Kind, ...], row: tuple[Any, ...]) -> int:
    """Return the 60-bit digest of one converted row."""
    text = "|".join(field_text(kind, value) for kind, value in zip(kinds, row, strict=True))
    return _digest(text)


def _digest(text: str) -> int:
    # The first 60 bits of the md5: PostgreSQL's substr(md5(...), 1, 15) as an integer.
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") >> 4


_sha256 = hashlib.sha256
_SHORT_TEXT_HASHES: dict[str, str] = {}  # '', 'legacy', '[]', …: hashed once


def _text_hash(value: str | None) -> str:
    if value is None:
        return "-"
    if len(value) > 64:
        return _sha256(value.encode()).hexdigest()
    known = _SHORT_TEXT_HASHES.get(value)
    if known is None:
        known = _text_hex(value)
        if len(_SHORT_TEXT_HASHES) < 10_000:
            _SHORT_TEXT_HASHES[value] = known
    return known


def _fast_field(kind: Kind, nullable: bool) -> Callable[[Any], str]:
    if kind in ("text", "json"):
        return _text_hash
    if kind in ("band", "enum", "int"):  # bands are quantized to 0.01: str() gives '6.50'
        return (lambda value: "-" if value is None else str(value)) if nullable else str
    if kind == "ts":
        if nullable:
            return lambda value: "-" if value is None else str((value - _EPOCH) // _MICROSECOND)
        return lambda value: str((value - _EPOCH) // _MICROSECOND)
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
    md5 = hashlib.md5

    def digest(row: tuple[Any, ...]) -> int:
        # The same text and the same 60 bits as row_digest, with C-level loops.
        text = "|".join(map(operator.call, formatters, row))
        return int.from_bytes(md5(text.encode(), usedforsecurity=False).digest()[:8], "big") >> 4

    return digest


def sql_field(kind: Kind, column: str) -> str:
    """Return the SQL expression giving one column's canonical text on PostgreSQL."""
    quoted = f'"{column}"'
    expressions: dict[Kind, str] = {
        "text": f"encode(sha256(convert_to({quoted}, 'UTF8')), 'hex')",
        "int": f"{quoted}::text",
        "ts": f"((extract(epoch FROM {quoted}) * 1000000)::bigint)::text",
        "date": f"({quoted} - DATE '1970-01-01')::text",
        "bool": f"CASE WHEN {quoted} THEN '1' ELSE '0' END",
        "band": f"{quoted}::text",
        "enum": f"{quoted}::text",
        "json": f"encode(sha256(convert_to({quoted}::text, 'UTF8')), 'hex')",
    }
    return f"coalesce({expressions[kind]}, '-')"


def sql_checksum(table: str, columns: tuple[tuple[str, Kind], ...]) -> str:
    """Return the query giving (row count, checksum sum) of ``table`` on PostgreSQL."""
    row_text = " || '|' || ".join(sql_field(kind, name) for name, kind in columns)
    return (
        "SELECT count(*), coalesce(sum("
        f"('x' || substr(md5({row_text}), 1, 15))::bit(60)::bigint), 0)"
        f' FROM "{table}"'
    )


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
