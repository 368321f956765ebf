"""Counting words, sentences and paragraphs the way the limits and the assessors need."""

from __future__ import annotations

import re

WORD = re.compile(r"[A-Za-z\u00C0-\u024F]+(?:['’-][A-Za-z\u00C0-\u024F]+)*|\d+(?:[.,]\d+)*%?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> list[str]:
    """Return the words of ``text`` (numbers and hyphenated words count as one)."""
    return WORD.findall(text)


def word_count(text: str) -> int:
    """Return how many words ``text`` has."""
    return len(words(text))


def sentences(text: str) -> list[str]:
    """Return the sentences of ``text``."""
    return [part.strip() for part in SENTENCE_END.split(text.strip()) if part.strip()]


def paragraphs(text: str) -> list[str]:
    """Return the paragraphs of ``text`` (separated by blank lines, or single lines)."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    if len(blocks) <= 1:
        blocks = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return blocks
