"""Legacy value parsing: every datetime spelling, enums in any case, suggestions text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bandwise.legacy import values
from bandwise.models import ProcessingStatus, TaskType
from testkit.legacy import SCHEMA_PATH


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01 09:00:00.000001", datetime(2024, 3, 1, 9, 0, 0, 1, tzinfo=UTC)),
        ("2024-03-01 09:00:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T09:00:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01 09:00:00.123", datetime(2024, 3, 1, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2024-03-01T09:00:00Z", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01T11:00:00+02:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        (1709283600, datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("1709283600", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        (1709283600000, datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_datetime_spellings(raw: object, expected: datetime) -> None:
    assert values.parse_datetime(raw) == expected


@pytest.mark.parametrize("raw", ["2025-02-30 10:00:00", "n/a", "", "2024-13-01", True])
def test_impossible_datetimes_are_refused_with_the_value(raw: object) -> None:
    with pytest.raises(ValueError, match="datetime"):
        values.parse_datetime(raw)


def test_canonical_sqlite_text_keeps_microseconds() -> None:
    moment = datetime(2024, 3, 1, 9, 0, 0, 1, tzinfo=UTC)
    assert values.format_sqlite_datetime(moment) == "2024-03-01 09:00:00.000001"


def test_enums_in_any_case() -> None:
    assert values.parse_task_type("TASK_2") is TaskType.TASK_2
    assert values.parse_task_type("Task_1") is TaskType.TASK_1
    assert values.parse_processing_status("pending") is ProcessingStatus.PENDING
    with pytest.raises(ValueError, match="task_1, task_2"):
        values.parse_task_type("essay")


def test_scalars() -> None:
    assert values.parse_bool(1) is True and values.parse_bool("f") is False
    assert values.parse_int("9007199254740993") == 9_007_199_254_740_993
    assert values.parse_date("2024-03-01") == date(2024, 3, 1)
    with pytest.raises(ValueError, match="integer"):
        values.parse_int("n/a")
    with pytest.raises(ValueError, match="64-bit"):
        values.parse_int(2**63)


def test_suggestions_text_becomes_a_list() -> None:
    assert values.parse_suggestions('["a", "b"]') == (["a", "b"], False)
    assert values.parse_suggestions("Write an overview.") == (["Write an overview."], True)
    assert values.parse_suggestions('"just a string"') == (["just a string"], True)


def test_bundled_legacy_schema_matches_the_shared_one() -> None:
    shared = SCHEMA_PATH.parents[3] / "shared" / "legacy-sqlite-schema.sql"
    if shared.exists():  # beside the repository in CI and on developers' machines
        assert shared.read_text() == SCHEMA_PATH.read_text()
