"""Property tests: any legal legacy value arrives exactly; Python and PostgreSQL agree on JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bandwise.config import Settings
from bandwise.ops.importer import ImportOptions, import_sqlite
from bandwise.ops.importer.canonical import jsonb_text
from testkit.importer import fetch
from testkit.legacy import LegacyData, write_legacy_file

LEGAL_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40
)
DATETIMES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1))
BANDS = st.integers(0, 900).map(lambda cents: cents / 100)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | LEGAL_TEXT
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(LEGAL_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def legacy_rows(draw: st.DrawFn) -> LegacyData:
    """Draw a few users, each with legal values, essays and assessments."""
    data = LegacyData()
    telegram_ids = draw(
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=5, unique=True)
    )
    submission_id = 0
    for user_id, telegram_id in enumerate(telegram_ids, start=1):
        data.users.append(
            {
                "id": user_id,
                "telegram_id": telegram_id,
                "username": draw(st.none() | LEGAL_TEXT),
                "first_name": draw(LEGAL_TEXT),
                "created_at": draw(DATETIMES).isoformat(sep=" ", timespec="microseconds"),
                "is_pro": draw(st.sampled_from([0, 1])),
                "daily_submissions": 0,
                "last_submission_date": None,
            }
        )
        for _ in range(draw(st.integers(0, 2))):
            submission_id += 1
            data.submissions.append(
                {
                    "id": submission_id,
                    "user_id": user_id,
                    "text": draw(LEGAL_TEXT),
                    "task_type": draw(st.sampled_from(["TASK_1", "TASK_2"])),
                    "word_count": draw(st.integers(0, 2**31 - 1)),
                    "submitted_at": draw(DATETIMES).isoformat(sep=" ", timespec="microseconds"),
                    "processing_status": draw(st.sampled_from(["PENDING", "COMPLETED", "FAILED"])),
                }
            )
            data.assessments.append(
                {
                    "id": submission_id,
                    "submission_id": submission_id,
                    **{
                        name: draw(BANDS)
                        for name in (
                            "task_achievement_score",
                            "coherence_cohesion_score",
                            "lexical_resource_score",
                            "grammatical_accuracy_score",
                            "overall_band_score",
                        )
                    },
                    "detailed_feedback": draw(LEGAL_TEXT),
                    "improvement_suggestions": json.dumps(draw(st.lists(LEGAL_TEXT, max_size=3))),
                    "assessed_at": draw(DATETIMES).isoformat(sep=" ", timespec="microseconds"),
                }
            )
    return data


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=legacy_rows())
def test_legal_legacy_values_round_trip_exactly(
    data: LegacyData, tmp_path: Path, target_url: str, import_settings: Settings
) -> None:
    source = tmp_path / "roundtrip.db"
    source.unlink(missing_ok=True)
    write_legacy_file(source, data)

    async def run() -> tuple[list[Any], list[Any], list[Any]]:
        report = await import_sqlite(
            source, target_url, import_settings, ImportOptions(replace=True)
        )
        assert report.verified
        return (
            await fetch(target_url, "SELECT * FROM users ORDER BY id"),
            await fetch(target_url, "SELECT * FROM submissions ORDER BY id"),
            await fetch(target_url, "SELECT * FROM assessments ORDER BY id"),
        )

    users, submissions, assessments = asyncio.run(run())
    assert [
        (u["id"], u["telegram_id"], u["username"], u["first_name"], u["created_at"], u["is_pro"])
        for u in users
    ] == [
        (
            u["id"],
            u["telegram_id"],
            u["username"],
            u["first_name"],
            _utc(u["created_at"]),
            bool(u["is_pro"]),
        )
        for u in data.users
    ]
    assert [
        (s["text"], s["task_type"], s["word_count"], s["submitted_at"], s["processing_status"])
        for s in submissions
    ] == [
        (
            s["text"],
            s["task_type"].lower(),
            s["word_count"],
            _utc(s["submitted_at"]),
            s["processing_status"].lower(),
        )
        for s in data.submissions
    ]
    assert [
        (
            a["overall_band_score"],
            a["task_achievement_score"],
            a["detailed_feedback"],
            json.loads(a["improvement_suggestions"]),
            a["assessed_at"],
        )
        for a in assessments
    ] == [
        (
            Decimal(str(a["overall_band_score"])),
            Decimal(str(a["task_achievement_score"])),
            a["detailed_feedback"],
            json.loads(a["improvement_suggestions"]),
            _utc(a["assessed_at"]),
        )
        for a in data.assessments
    ]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(JSON_VALUES, min_size=1, max_size=60))
def test_python_canonical_json_is_what_postgresql_prints(
    values: list[Any], target_url: str
) -> None:
    texts = [jsonb_text(value) for value in values]

    async def printed() -> list[str]:
        connection = await asyncpg.connect(
            target_url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:
            rows = await connection.fetch(
                "SELECT t::jsonb::text FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) "
                "ORDER BY n",
                texts,
            )
            return [row[0] for row in rows]
        finally:
            await connection.close()

    assert asyncio.run(printed()) == texts
