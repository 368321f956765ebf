"""Build legacy-bot SQLite files from the exact legacy schema, with the value quirks of the wild."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("legacy-sqlite-schema.sql")


def legacy_schema_sql() -> str:
    """Return the legacy schema DDL (a copy of shared/legacy-sqlite-schema.sql)."""
    return SCHEMA_PATH.read_text(encoding="utf-8")


@dataclass
class LegacyData:
    """Rows to write, as the legacy bot (or a hand-made fix) would have stored them."""

    users: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)


def write_legacy_file(path: Path, data: LegacyData) -> Path:
    """Create ``path`` with the legacy schema and ``data`` (foreign keys off, as in the wild)."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(legacy_schema_sql())
        for table in ("users", "submissions", "rate_limits", "assessments"):
            for row in getattr(data, table):
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                connection.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())
                )
        connection.commit()
    finally:
        connection.close()
    return path


def quirky_legacy_data() -> LegacyData:
    """Return a small data set covering every legacy value convention and quirk."""
    data = LegacyData()
    data.users = [
        {
            "id": 1,
            "telegram_id": 5_123_456_789,
            "username": "anna",
            "first_name": "Anna",
            "created_at": "2024-01-05 10:00:00.123456",
            "is_pro": 0,
            "daily_submissions": 2,
            "last_submission_date": "2024-03-01",
        },
        {
            "id": 2,
            "telegram_id": 42,
            "username": None,
            "first_name": "Bo",
            "created_at": "2024-01-06T08:30:00",
            "is_pro": 1,
            "daily_submissions": 0,
            "last_submission_date": None,
        },
        {
            "id": 3,
            "telegram_id": 9_007_199_254_740_993,
            "username": "chen",
            "first_name": None,
            "created_at": "2024-02-01 12:00:00.5",
            "is_pro": 0,
            "daily_submissions": 3,
            "last_submission_date": "2024-03-02",
        },
    ]
    data.submissions = [
        {
            "id": 10,
            "user_id": 1,
            "text": "Essay one " * 30,
            "task_type": "TASK_2",
            "word_count": 60,
            "submitted_at": "2024-03-01 09:00:00.000001",
            "processing_status": "COMPLETED",
        },
        {
            "id": 11,
            "user_id": 1,
            "text": "Essay two " * 30,
            "task_type": "task_1",
            "word_count": 60,
            "submitted_at": "2024-03-01 10:00:00",
            "processing_status": "completed",
        },
        {
            "id": 12,
            "user_id": 3,
            "text": "Essay three",
            "task_type": "Task_2",
            "word_count": 2,
            "submitted_at": 1709370000,
            "processing_status": "Pending",
        },
    ]
    data.rate_limits = [
        {
            "id": 100,
            "user_id": 1,
            "submission_date": "2024-03-01",
            "submission_count": 1,
            "created_at": "2024-03-01 09:00:00",
        },
        {
            "id": 101,
            "user_id": 1,
            "submission_date": "2024-03-01",
            "submission_count": 1,
            "created_at": "2024-03-01 10:00:00",
        },
        {
            "id": 102,
            "user_id": 2,
            "submission_date": "2024-02-10",
            "submission_count": 1,
            "created_at": "2024-02-10 07:00:00.250",
        },
    ]
    data.assessments = [
        {
            "id": 1000,
            "submission_id": 10,
            "task_achievement_score": 6.5,
            "coherence_cohesion_score": 6.0,
            "lexical_resource_score": 7.0,
            "grammatical_accuracy_score": 6.5,
            "overall_band_score": 6.5,
            "detailed_feedback": "Good.",
            "improvement_suggestions": json.dumps(["Use more linkers"]),
            "assessed_at": "2024-03-01 09:00:05.654321",
        },
        {
            "id": 1001,
            "submission_id": 11,
            "task_achievement_score": 5.0,
            "coherence_cohesion_score": 5.5,
            "lexical_resource_score": 5.0,
            "grammatical_accuracy_score": 6.0,
            "overall_band_score": 5.5,
            "detailed_feedback": "Fair.",
            "improvement_suggestions": "Write an overview first.",
            "assessed_at": "2024-03-01T10:00:05.123",
        },
    ]
    return data


# --- generated files: conversions, bad rows, and big seeded files for the benchmark ---------------

_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are from or have an not which "
    "but at they their more can has been one all people would there some other what about "
    "many these than also its most while however therefore moreover government education "
    "technology society environment students children countries important problem solution "
    "increase decrease percentage proportion chart graph figure between during period"
)
_WORDS = tuple(_VOCABULARY.split())


def set_raw_text(path: Path, table: str, row_id: int, column: str, raw: bytes) -> None:
    """Store ``raw`` bytes as TEXT in one cell (e.g. invalid UTF-8, as old drivers wrote it)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            f"UPDATE {table} SET {column} = CAST(? AS TEXT) WHERE id = ?", (raw, row_id)
        )
        connection.commit()
    finally:
        connection.close()


def break_an_index(path: Path) -> None:
    """Make an index disagree with its table: every row reads fine, only integrity_check tells."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("CREATE INDEX ix_probe ON users(username)")
        connection.execute("PRAGMA writable_schema=ON")
        connection.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_probe ON users(first_name)' "
            "WHERE name = 'ix_probe'"
        )
        connection.commit()
    finally:
        connection.close()


def conversion_legacy_data() -> LegacyData:
    """Return the quirky data plus one row per remaining conversion (spellings, NUL, JSON)."""
    data = quirky_legacy_data()
    data.users.append(
        {
            "id": 4,
            "telegram_id": "7000000001",
            "username": "nul\x00name",
            "first_name": "Dee",
            "created_at": 1_709_370_000_123,
            "is_pro": "true",
            "daily_submissions": 2,
            "last_submission_date": "2024-03-05",
        }
    )
    data.submissions.append(
        {
            "id": 14,
            "user_id": 4,
            "text": "one two three",
            "task_type": "task_2",
            "word_count": "3",
            "submitted_at": "2024-03-05T08:00:00.250Z",
            "processing_status": "failed",
        }
    )
    data.assessments.append(
        {
            "id": 1003,
            "submission_id": 14,
            "task_achievement_score": "6.25",
            "coherence_cohesion_score": 6.75,
            "lexical_resource_score": 0,
            "grammatical_accuracy_score": 9,
            "overall_band_score": 7.5,
            "detailed_feedback": 'Line\nbreaks\tand "quotes"',
            "improvement_suggestions": '{"b": 1.50, "a": [1e2, -0.0, "x\\u0000y"]}',
            "assessed_at": "2024-03-05 08:00:01",
        }
    )
    return data


def bad_legacy_data() -> LegacyData:
    """Return valid rows plus bad ones: impossible date, 'n/a' integer, orphans, inexact band."""
    data = quirky_legacy_data()
    data.users.append(
        {
            "id": 5,
            "telegram_id": "n/a",
            "username": "bad",
            "first_name": None,
            "created_at": "2024-01-01 00:00:00",
            "is_pro": 0,
            "daily_submissions": 0,
            "last_submission_date": None,
        }
    )
    data.submissions += [
        {
            "id": 15,
            "user_id": 5,
            "text": "child of a bad user",
            "task_type": "TASK_1",
            "word_count": 5,
            "submitted_at": "2024-03-01 00:00:00",
            "processing_status": "COMPLETED",
        },
        {
            "id": 16,
            "user_id": 99,
            "text": "orphan",
            "task_type": "TASK_1",
            "word_count": 1,
            "submitted_at": "2024-03-01 00:00:00",
            "processing_status": "COMPLETED",
        },
        {
            "id": 17,
            "user_id": 2,
            "text": "bad date",
            "task_type": "TASK_1",
            "word_count": 2,
            "submitted_at": "2025-02-30 10:00:00",
            "processing_status": "COMPLETED",
        },
    ]
    data.assessments += [
        {
            "id": 1004,
            "submission_id": 17,
            "task_achievement_score": 6.0,
            "coherence_cohesion_score": 6.0,
            "lexical_resource_score": 6.0,
            "grammatical_accuracy_score": 6.0,
            "overall_band_score": 6.0,
            "detailed_feedback": "x",
            "improvement_suggestions": "[]",
            "assessed_at": "2024-03-01 00:00:01",
        },
        {
            "id": 1005,
            "submission_id": 12,
            "task_achievement_score": 6.555,
            "coherence_cohesion_score": 6.0,
            "lexical_resource_score": 6.0,
            "grammatical_accuracy_score": 6.0,
            "overall_band_score": 6.0,
            "detailed_feedback": "y",
            "improvement_suggestions": "[]",
            "assessed_at": "2024-03-01 00:00:01",
        },
    ]
    data.rate_limits.append(
        {
            "id": 103,
            "user_id": 5,
            "submission_date": "2024-03-01",
            "submission_count": 1,
            "created_at": "2024-03-01 00:00:00",
        }
    )
    return data


def write_generated_legacy_file(
    path: Path,
    users: int,
    *,
    seed: int = 20261124,
    max_submissions: int = 12,
    essay_words: tuple[int, int] = (250, 350),
    feedback_chars: int = 2000,
) -> dict[str, int]:
    """Write a seeded legacy file of ``users`` users with essays, assessments and limits.

    Row shapes follow the legacy bot: 64-bit telegram ids, essays of 250–350 words, ~2 KB of
    feedback, one rate-limit row per active day. Returns the rows written per table.
    """
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.executescript(legacy_schema_sql())
    counts = dict.fromkeys(("users", "submissions", "rate_limits", "assessments"), 0)
    start = datetime(2024, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    submission_id = rate_id = 0
    chunk: dict[str, list[tuple[Any, ...]]] = {name: [] for name in counts}
    statements = {
        "users": "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        "submissions": "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?)",
        "rate_limits": "INSERT INTO rate_limits VALUES (?, ?, ?, ?, ?)",
        "assessments": "INSERT INTO assessments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    }

    def flush() -> None:
        for name, rows in chunk.items():
            if rows:
                connection.executemany(statements[name], rows)
                counts[name] += len(rows)
                rows.clear()

    bands = [x / 2 for x in range(8, 19)]
    for user_id in range(1, users + 1):
        created = start + timedelta(
            seconds=rng.randrange(0, 200 * 86400), microseconds=rng.randrange(10**6)
        )
        n = rng.randrange(0, max_submissions + 1)
        last_day = None
        days: dict[str, int] = {}
        for k in range(n):
            submission_id += 1
            at = created + timedelta(
                days=k, seconds=rng.randrange(86400), microseconds=rng.randrange(10**6)
            )
            words = " ".join(rng.choices(_WORDS, k=rng.randint(*essay_words)))
            chunk["submissions"].append(
                (
                    submission_id,
                    user_id,
                    words,
                    rng.choice(("TASK_1", "TASK_2")),
                    len(words.split()),
                    at.isoformat(sep=" "),
                    "COMPLETED",
                )
            )
            day = at.date().isoformat()
            days[day] = days.get(day, 0) + 1
            last_day = day
            feedback = " ".join(rng.choices(_WORDS, k=feedback_chars // 6))
            scores = [rng.choice(bands) for _ in range(5)]
            chunk["assessments"].append(
                (
                    submission_id,
                    submission_id,
                    *scores,
                    feedback,
                    json.dumps(["Use more linking words", "Vary sentences"]),
                    (at + timedelta(seconds=5)).isoformat(sep=" "),
                )
            )
        for day, count in days.items():
            rate_id += 1
            chunk["rate_limits"].append((rate_id, user_id, day, count, f"{day} 00:00:01.000000"))
        chunk["users"].append(
            (
                user_id,
                5_000_000_000 + user_id * 7919,
                f"user{user_id}",
                f"Name {user_id}",
                created.isoformat(sep=" "),
                int(rng.random() < 0.1),
                days.get(last_day, 0) if last_day else 0,
                last_day,
            )
        )
        if len(chunk["submissions"]) >= 5000 or len(chunk["users"]) >= 5000:
            flush()
    flush()
    connection.commit()
    connection.close()
    return counts


# Telegram ids of the candidates of :func:`bot_written_legacy_data` (far from any users.id).
BOT_TELEGRAM_IDS = {1: 7_000_000_001, 2: 7_000_000_002, 3: 7_000_000_003}
DELETED_USER_ID = 4


def bot_written_legacy_data() -> LegacyData:
    """Return rows as the legacy bot's own handlers leave them in a production file.

    The handlers stored the candidate's Telegram id as ``submissions.user_id`` and
    ``rate_limits.user_id``; users were deleted without cascading (foreign keys off); one day's
    counter was written twice (duplicate rate-limit rows), and the per-user counters
    ``daily_submissions``/``last_submission_date`` were kept as well; text may hold NUL bytes.
    """
    data = LegacyData()
    for user_id, telegram_id in BOT_TELEGRAM_IDS.items():
        data.users.append(
            {
                "id": user_id,
                "telegram_id": telegram_id,
                "username": f"candidate{user_id}",
                "first_name": f"Name\x00{user_id}" if user_id == 3 else f"Name{user_id}",
                "created_at": f"2024-09-0{user_id} 08:00:00.000000",
                "is_pro": 0,
                "daily_submissions": user_id,
                "last_submission_date": "2024-09-25",
            }
        )
    essay = "Some people believe that cities should invest in public transport. " * 6
    submissions = [
        # (id, user_id as stored, assessed)
        (1, 1, True),  # through the admin path: a real users.id, left alone
        (2, BOT_TELEGRAM_IDS[1], True),  # through the bot: the Telegram id
        (3, BOT_TELEGRAM_IDS[2], True),
        (4, BOT_TELEGRAM_IDS[2], False),
        (5, BOT_TELEGRAM_IDS[3], True),
        (6, DELETED_USER_ID, True),  # its user was deleted: an orphan
        (7, 8_888_888_888, False),  # a Telegram id nobody has: an orphan
    ]
    for submission_id, user_id, assessed in submissions:
        text = essay + ("\x00 signed" if submission_id in (3, 7) else "")
        data.submissions.append(
            {
                "id": submission_id,
                "user_id": user_id,
                "text": text,
                "task_type": "TASK_2",
                "word_count": len(text.split()),
                "submitted_at": f"2024-09-2{submission_id % 6} 10:00:00.000000",
                "processing_status": "COMPLETED" if assessed else "PENDING",
            }
        )
        if assessed:
            data.assessments.append(
                {
                    "id": 100 + submission_id,
                    "submission_id": submission_id,
                    "task_achievement_score": 6.5,
                    "coherence_cohesion_score": 6.0,
                    "lexical_resource_score": 7.0,
                    "grammatical_accuracy_score": 6.5,
                    "overall_band_score": 6.5,
                    "detailed_feedback": "Clear position." + ("\x00" if submission_id == 5 else ""),
                    "improvement_suggestions": json.dumps(
                        ["Vary sentences", "Link ideas" + ("\x00" if submission_id == 2 else "")]
                    ),
                    "assessed_at": f"2024-09-2{submission_id % 6} 10:00:05.000000",
                }
            )
    rate_limits = [
        # (id, user_id as stored, day, count)
        (1, 1, "2024-09-24", 1),
        (2, BOT_TELEGRAM_IDS[1], "2024-09-24", 1),  # re-attached: merges with id 1
        (3, BOT_TELEGRAM_IDS[1], "2024-09-25", 2),  # re-attached: absorbs user 1's counter
        (4, BOT_TELEGRAM_IDS[2], "2024-09-23", 1),
        (5, BOT_TELEGRAM_IDS[2], "2024-09-23", 1),  # duplicate of id 4 (both re-attached)
        (6, DELETED_USER_ID, "2024-09-24", 3),  # orphan
        (7, 1, "2024-09-26", 2),
    ]
    for row_id, user_id, day, count in rate_limits:
        data.rate_limits.append(
            {
                "id": row_id,
                "user_id": user_id,
                "submission_date": day,
                "submission_count": count,
                "created_at": f"{day} 09:00:0{row_id}.000000",
            }
        )
    return data
