"""Legacy spellings the SQL fast path respells, with their neighbours it must leave alone.

Per column kind: values the careful path converts with only a note (each must be respelled
by SQLite, ``FAST``), and values that look alike but need judgment or are bad (``OTHERS``:
the SQL path must leave them to the careful path, or respell them exactly). A legacy file
combining them row by row (``respelling_legacy_data``) feeds the differential import test.
"""

from __future__ import annotations

import itertools
from typing import Any

from testkit.legacy import LegacyData

FAST: dict[str, tuple[Any, ...]] = {
    "ts": (
        "2024-03-08 07:42:13.146207",  # the bot's own
        "2024-03-08T07:42:13.146207",
        "2024-03-08 07:42:13.146",
        "2024-03-08T07:42:13.1",
        "2024-03-08 07:42:13",
        "2024-03-08T07:42:13",
        "2024-03-08 07:42:13,250000",
        "2024-03-08T07:42:13.123456789",  # cut to microseconds
        "2024-02-29T23:59:59.999999",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59.999999",
        0,
        1_711_148_813,
        100_000_000_000,  # the largest epoch read as seconds
    ),
    "enum_task": ("TASK_1", "task_1", "Task_2", "tASK_2"),
    "enum_status": ("COMPLETED", "completed", "Pending", "FAILED", "failed"),
    "bool": (0, 1, "true", "TRUE", "t", "F", "yes", "No", "y", "n", "0", "1"),
    "band": (6.5, 0, 9, "6.5", "6", "6.25", "9.0", "0.0", "7.13"),
}
OTHERS: dict[str, tuple[Any, ...]] = {
    "ts": (
        "2025-02-30 10:00:00.000000",  # no such day (SQLite's datetime() keeps it)
        "2025-02-30T10:00:00",
        "2024-01-01 24:00:00",
        "2024-01-01 23:60:00",
        "2024-01-01 23:59:60",
        "0000-01-01 00:00:00",
        "2024-01-01t00:00:00",
        "2024-01-01 00:00:00.",
        "2024-01-01 00:00:00.1234567890",
        "2024-01-01 00:00:00.12a",
        "2024-01-01 00:00:00Z",
        "2024-01-01 00:00:00+01:00",
        " 2024-01-01 00:00:00",
        "2024-01-01 00:00:00 ",
        "2024-01-01 00:00:00\n",
        "2024-01-01 00:00:00\x00",
        "2024-01-01 00:00:00.123456\x00",
        "2024-01-01",
        "2024-01-01 00:00",
        "\u0662\u0660\u0662\u0664-01-01 00:00:00",  # Arabic-Indic digits: Python's \d
        "1711148813",
        "",
        "yesterday",
        100_000_000_001,  # milliseconds
        1_711_148_813_250,
        -1,
        1_711_148_813.5,
        b"2024-01-01 00:00:00",
    ),
    "enum_task": (
        "TASK_3",
        " task_1",
        "task_1 ",
        "TASK_1\x00",
        "TAS\u212a_1",  # KELVIN SIGN: Python lowers it to 'k'
        "",
        1,
        b"TASK_1",
    ),
    "enum_status": ("done", "COMPLETED\n", "c\u00f6mpleted", "failed\x00"),
    "bool": (2, -1, 1.0, "truex", " true", "true\x00", "", "2", b"1"),
    "band": (
        6.1,
        -0.5,
        9.5,
        "9.5",
        "09",
        "6.500",
        " 6.5",
        "6.5 ",
        "6,5",
        "6.5\x00",
        "",
        "NaN",
        "-0",
        "+6",
        "6.",
        ".5",
        b"6.5",
    ),
}


def respelling_legacy_data() -> LegacyData:
    """Return one user and essays combining every respelled spelling (and its neighbours).

    Each submission and assessment takes the next respelled spelling of each column in turn,
    so that spellings meet in every row; then each neighbouring spelling (left to the careful
    path or the quarantine) comes once among them. Every third row holds the Telegram id as
    ``user_id``, some a NUL byte.
    """
    data = LegacyData()
    telegram_id = 7_000_000_101
    data.users.append(
        {
            "id": 1,
            "telegram_id": telegram_id,
            "username": "speller",
            "first_name": "Speller",
            "created_at": "2024-01-01 00:00:00.000000",
            "is_pro": 0,
            "daily_submissions": 0,
            "last_submission_date": None,
        }
    )
    # Not datetime.min and datetime.max: the Python path's binary COPY (asyncpg) stores them
    # as -infinity and infinity, and its verification refuses the import (a gap of its own).
    spelled = tuple(value for value in FAST["ts"] if str(value)[:4] not in ("0001", "9999"))
    stamps = itertools.cycle(spelled)
    tasks = itertools.cycle(FAST["enum_task"])
    statuses = itertools.cycle(FAST["enum_status"])
    bands = itertools.cycle(FAST["band"])
    # First every respelled spelling meets the others; then each neighbour once, in turn.
    plain: list[dict[str, Any]] = [{} for _ in range(len(spelled) * 3)]
    odd = [
        {column: value}
        for column, key in (
            ("submitted_at", "ts"),
            ("task_type", "enum_task"),
            ("processing_status", "enum_status"),
            ("task_achievement_score", "band"),
            ("assessed_at", "ts"),
        )
        for value in OTHERS[key]
    ]
    for at, override in enumerate([*plain, *odd], start=1):
        text = f"essay number {at}" + ("\x00 signed" if at % 11 == 0 else "")
        submission = {
            "id": at,
            "user_id": telegram_id if at % 3 == 0 else 1,
            "text": text,
            "task_type": next(tasks),
            "word_count": len(text.split()),
            "submitted_at": next(stamps),
            "processing_status": next(statuses),
        }
        assessment = {
            "id": 1000 + at,
            "submission_id": at,
            "task_achievement_score": next(bands),
            "coherence_cohesion_score": next(bands),
            "lexical_resource_score": 6.5,
            "grammatical_accuracy_score": next(bands),
            "overall_band_score": 7,
            "detailed_feedback": "fine" + ("\x00" if at % 13 == 0 else ""),
            "improvement_suggestions": '["Use more linking words"]',
            "assessed_at": next(stamps),
        }
        for row in (submission, assessment):
            row.update((column, value) for column, value in override.items() if column in row)
        data.submissions.append(submission)
        data.assessments.append(assessment)
    return data
