"""SQLite text as the importer reads it: invalid UTF-8 repaired and marked (stdlib only)."""

from __future__ import annotations


class ReplacedText(str):
    """Text decoded from invalid UTF-8 with replacement characters (reported as such)."""

    __slots__ = ()


def decode_text(raw: bytes) -> str:
    """Decode SQLite text as UTF-8; invalid bytes become U+FFFD in a :class:`ReplacedText`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ReplacedText(raw.decode("utf-8", errors="replace"))
