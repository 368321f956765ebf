"""Counted nouns in user-facing text: "1 row", "2 rows", never "row(s)"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Return ``count`` with the noun in the right number ("1 paragraph", "3 paragraphs")."""
    noun = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {noun}"
