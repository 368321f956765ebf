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
