"""Seeded legacy files of several data shapes, written the way the legacy bot's handlers wrote them.

The benchmark's files must not all look alike: the import's speed depends on how many
rate-limit rows there are, how many per-user counters must be merged into them, how long the
texts are, and how many rows need the careful path (odd spellings, NUL bytes, the Telegram id
stored as ``user_id`` by the bot's own handlers). Each :class:`LegacyShape` sets those; the
rows follow the legacy schema and the bot's conventions (see ``legacy.bot_written_legacy_data``).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from testkit.legacy import _WORDS, legacy_schema_sql, write_generated_legacy_file

TELEGRAM_ID_BASE = 5_000_000_000


@dataclass(frozen=True)
class LegacyShape:
    """How one generated legacy file looks (all shares are per row, 0–1)."""

    name: str
    description: str
    submissions: tuple[int, int] = (0, 12)  # per user, uniform
    essay_words: tuple[int, int] = (250, 350)
    feedback_chars: int = 2000
    submissions_per_day: tuple[int, int] = (1, 1)  # essays sent on one active day
    extra_rate_days: tuple[int, int] = (0, 0)  # days counted though no essay survived
    duplicate_rate_share: float = 0.0  # a day's counter written as two rows
    stale_counter_share: float = 0.0  # users.daily_submissions of a day rate_limits lacks
    raised_counter_share: float = 0.0  # users.daily_submissions above the day's rows
    bot_written_share: float = 0.0  # user_id holding the candidate's Telegram id
    odd_share: float = 0.0  # odd spellings: 'T' separator, lower case, 'true', epoch
    nul_share: float = 0.0  # a NUL byte in an essay or feedback


SHAPES: dict[str, LegacyShape] = {
    shape.name: shape
    for shape in (
        LegacyShape(
            "canonical",
            "the former generator: canonical spellings, one rate-limit row per active day",
        ),
        LegacyShape(
            "issue15",
            "~8 essays and ~5 rate-limit rows per user, two thirds of counters to merge",
            submissions=(0, 15),
            essay_words=(200, 300),
            feedback_chars=1500,
            submissions_per_day=(1, 3),
            extra_rate_days=(0, 2),
            duplicate_rate_share=0.15,
            stale_counter_share=0.67,
            raised_counter_share=0.05,
        ),
        LegacyShape(
            "rate_heavy",
            "~30 rate-limit rows per user (40 % duplicates), every counter to merge, short essays",
            submissions=(0, 8),
            essay_words=(40, 80),
            feedback_chars=300,
            extra_rate_days=(10, 25),
            duplicate_rate_share=0.4,
            stale_counter_share=0.9,
            raised_counter_share=0.1,
        ),
        LegacyShape(
            "careful_heavy",
            "bot-written ids on 30 %, odd spellings on 30 %, NUL bytes on 2 % of rows",
            submissions=(0, 12),
            submissions_per_day=(1, 2),
            duplicate_rate_share=0.1,
            stale_counter_share=0.3,
            bot_written_share=0.3,
            odd_share=0.3,
            nul_share=0.02,
        ),
        LegacyShape(
            "short_text",
            "short essays (10–40 words) and feedback (100 characters): per-row cost dominates",
            submissions=(0, 16),
            essay_words=(10, 40),
            feedback_chars=100,
            submissions_per_day=(1, 3),
            duplicate_rate_share=0.1,
            stale_counter_share=0.3,
        ),
    )
}

_STATEMENTS = {
    "users": "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "submissions": "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?)",
    "rate_limits": "INSERT INTO rate_limits VALUES (?, ?, ?, ?, ?)",
    "assessments": "INSERT INTO assessments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}
_BANDS = [x / 2 for x in range(8, 19)]


def write_shaped_legacy_file(
    path: Path, users: int, shape: LegacyShape, *, seed: int = 20261124
) -> dict[str, int]:
    """Write a seeded legacy file of ``users`` users in ``shape``; return rows per table."""
    if shape.name == "canonical":
        return write_generated_legacy_file(path, users, seed=seed)
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.executescript(legacy_schema_sql())
    writer = _Writer(connection, rng, shape)
    for user_id in range(1, users + 1):
        writer.user(user_id)
    writer.flush()
    connection.commit()
    connection.close()
    return writer.counts


class _Writer:
    """Write users one at a time with their essays, assessments and rate-limit rows."""

    def __init__(self, connection: sqlite3.Connection, rng: random.Random, shape: LegacyShape):
        self.connection = connection
        self.rng = rng
        self.shape = shape
        self.counts = dict.fromkeys(_STATEMENTS, 0)
        self.chunk: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _STATEMENTS}
        self.submission_id = 0
        self.rate_id = 0
        self.start = datetime(2024, 1, 1)

    def flush(self) -> None:
        for name, rows in self.chunk.items():
            if rows:
                self.connection.executemany(_STATEMENTS[name], rows)
                self.counts[name] += len(rows)
                rows.clear()

    def _chance(self, share: float) -> bool:
        return share > 0 and self.rng.random() < share

    def _stamp(self, at: datetime) -> Any:
        """Return ``at`` as the bot wrote it, or (odd rows) as a hand-made fix did."""
        if self._chance(self.shape.odd_share):
            choice = self.rng.randrange(3)
            if choice == 0:
                return at.isoformat(sep="T")
            if choice == 1:
                return at.isoformat(sep=" ", timespec="milliseconds")
            return int((at - datetime(1970, 1, 1)).total_seconds())
        return at.isoformat(sep=" ", timespec="microseconds")

    def _text(self, words: int) -> str:
        text = " ".join(self.rng.choices(_WORDS, k=words))
        if self._chance(self.shape.nul_share):
            text += "\x00 signed"
        return text

    def _user_ref(self, user_id: int) -> int:
        """Return the user id as stored: the bot's handlers wrote the Telegram id."""
        if self._chance(self.shape.bot_written_share):
            return TELEGRAM_ID_BASE + user_id * 7919
        return user_id

    def user(self, user_id: int) -> None:
        rng, shape = self.rng, self.shape
        created = self.start + timedelta(
            seconds=rng.randrange(0, 200 * 86400), microseconds=rng.randrange(1, 10**6)
        )
        days: dict[str, int] = {}
        day = created
        remaining = rng.randint(*shape.submissions)
        while remaining > 0:
            day += timedelta(days=rng.randint(1, 3))
            for _ in range(min(remaining, rng.randint(*shape.submissions_per_day))):
                remaining -= 1
                self._essay(user_id, day, days)
        for _ in range(rng.randint(*shape.extra_rate_days)):
            day += timedelta(days=rng.randint(1, 2))
            key = day.date().isoformat()
            days[key] = days.get(key, 0) + 1
        self._rate_rows(user_id, days)
        daily, last = self._counter(days, day)
        odd = self._chance(shape.odd_share)
        self.chunk["users"].append(
            (
                user_id,
                TELEGRAM_ID_BASE + user_id * 7919,
                f"user{user_id}",
                f"Name {user_id}" + ("\x00" if self._chance(shape.nul_share) else ""),
                self._stamp(created),
                "true" if odd and rng.random() < 0.5 else int(rng.random() < 0.1),
                daily,
                last,
            )
        )
        if len(self.chunk["submissions"]) >= 5000 or len(self.chunk["rate_limits"]) >= 5000:
            self.flush()

    def _essay(self, user_id: int, day: datetime, days: dict[str, int]) -> None:
        rng, shape = self.rng, self.shape
        self.submission_id += 1
        at = day.replace(hour=0, minute=0, second=0) + timedelta(
            seconds=rng.randrange(86400), microseconds=rng.randrange(1, 10**6)
        )
        text = self._text(rng.randint(*shape.essay_words))
        task: Callable[[str], str] = str.lower if self._chance(shape.odd_share) else str
        self.chunk["submissions"].append(
            (
                self.submission_id,
                self._user_ref(user_id),
                text,
                task(rng.choice(("TASK_1", "TASK_2"))),
                len(text.split()),
                self._stamp(at),
                "COMPLETED",
            )
        )
        key = at.date().isoformat()
        days[key] = days.get(key, 0) + 1
        self.chunk["assessments"].append(
            (
                self.submission_id,
                self.submission_id,
                *[rng.choice(_BANDS) for _ in range(5)],
                self._text(max(1, shape.feedback_chars // 6)),
                json.dumps(["Use more linking words", "Vary sentences"]),
                self._stamp(at + timedelta(seconds=5)),
            )
        )

    def _rate_rows(self, user_id: int, days: dict[str, int]) -> None:
        for key, count in days.items():
            parts = [count]
            if count > 1 and self._chance(self.shape.duplicate_rate_share):
                parts = [1, count - 1]  # the bot's double write: two rows for one day
            elif self._chance(self.shape.duplicate_rate_share):
                parts = [count, count]
            for part in parts:
                self.rate_id += 1
                self.chunk["rate_limits"].append(
                    (self.rate_id, self._user_ref(user_id), key, part, f"{key} 00:00:01.000000")
                )

    def _counter(self, days: dict[str, int], last_day: datetime) -> tuple[int, str | None]:
        """Return users.daily_submissions and last_submission_date as the bot left them."""
        if self._chance(self.shape.stale_counter_share):
            # Counted on a later day whose rate-limit row the bot never wrote.
            later = (last_day + timedelta(days=self.rng.randint(1, 5))).date().isoformat()
            return self.rng.randint(1, 3), later
        if not days:
            return 0, None
        key = max(days)
        if self._chance(self.shape.raised_counter_share):
            return days[key] + self.rng.randint(1, 2), key
        return days[key], key
