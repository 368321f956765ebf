"""Each legacy conversion arrives exactly, is counted or listed, and the report adds up."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.ops.importer import ImportOptions, import_sqlite
from testkit.importer import fetch
from testkit.legacy import conversion_legacy_data, set_raw_text, write_legacy_file


async def test_every_conversion_arrives_exactly(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, conversion_legacy_data())
    set_raw_text(legacy_path, "users", 2, "first_name", b"B\xffo")  # invalid UTF-8

    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    assert report.verified and report.committed
    users = {r["id"]: r for r in await fetch(target_url, "SELECT * FROM users")}
    assert users[1]["telegram_id"] == 5_123_456_789
    assert users[3]["telegram_id"] == 9_007_199_254_740_993  # beyond 2^53: exact
    assert users[4]["telegram_id"] == 7_000_000_001  # digits in text
    assert users[1]["created_at"] == datetime(2024, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    assert users[2]["created_at"] == datetime(2024, 1, 6, 8, 30, tzinfo=UTC)  # 'T', no fraction
    assert users[3]["created_at"] == datetime(2024, 2, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert users[4]["created_at"] == datetime(2024, 3, 2, 9, 0, 0, 123000, tzinfo=UTC)  # ms epoch
    assert [users[i]["is_pro"] for i in (1, 2, 4)] == [False, True, True]
    assert users[4]["username"] == "nulname"  # NUL removed
    assert users[2]["first_name"] == "B\ufffdo"  # invalid byte replaced

    submissions = {r["id"]: r for r in await fetch(target_url, "SELECT * FROM submissions")}
    assert submissions[10]["task_type"] == "task_2" and submissions[11]["task_type"] == "task_1"
    assert submissions[12]["processing_status"] == "pending"  # 'Pending'
    assert submissions[12]["submitted_at"] == datetime.fromtimestamp(1709370000, UTC)
    assert submissions[10]["submitted_at"].microsecond == 1
    assert submissions[14]["submitted_at"] == datetime(2024, 3, 5, 8, 0, 0, 250000, tzinfo=UTC)
    assert submissions[14]["word_count"] == 3

    limits = {
        (r["user_id"], r["submission_date"]): r["submission_count"]
        for r in await fetch(target_url, "SELECT * FROM rate_limits")
    }
    # user 1: two duplicate rows summed (2), its counter (2) absorbed; user 3 and 4: counters moved
    assert limits == {
        (1, date(2024, 3, 1)): 2,
        (2, date(2024, 2, 10)): 1,
        (3, date(2024, 3, 2)): 3,
        (4, date(2024, 3, 5)): 2,
    }

    assessments = {r["id"]: r for r in await fetch(target_url, "SELECT * FROM assessments")}
    assert json.loads(assessments[1001]["improvement_suggestions"]) == ["Write an overview first."]
    assert assessments[1003]["task_achievement_score"] == Decimal("6.25")
    assert assessments[1003]["coherence_cohesion_score"] == Decimal("6.75")
    suggestions = json.loads(assessments[1003]["improvement_suggestions"], parse_float=Decimal)
    assert suggestions == [{"a": [100, Decimal("0.0"), "xy"], "b": Decimal("1.50")}]
    assert assessments[1003]["assessor"] == "legacy"

    counts = report.transformation_counts
    assert counts["rate_limits.submission_count:rate_limit_merged"] == 1
    assert counts["rate_limits.submission_count:counter_moved"] == 2
    assert counts["users.username:nul_removed"] == 1
    assert counts["assessments.improvement_suggestions:nul_removed"] == 1
    assert counts["users.first_name:utf8_replaced"] == 1
    assert counts["users.created_at:epoch_to_datetime"] == 1
    # plain text (1001) and a JSON object (1003) both become lists
    assert counts["assessments.improvement_suggestions:suggestions_text_to_list"] == 2
    listed = {(t.table, t.source_id, t.kind) for t in report.transformations}
    assert {
        ("users", 4, "nul_removed"),
        ("users", 2, "utf8_replaced"),
        ("rate_limits", 100, "rate_limit_merged"),
    } <= listed


async def test_report_numbers_match_the_data(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    data = conversion_legacy_data()
    write_legacy_file(legacy_path, data)

    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    stored = {
        r[0]: int(r[1])
        for r in await fetch(
            target_url,
            (
                "SELECT 'users', count(*) FROM users "
                "UNION ALL SELECT 'submissions', count(*) FROM submissions"
                " UNION ALL SELECT 'rate_limits', count(*) FROM rate_limits"
                " UNION ALL SELECT 'assessments', count(*) FROM assessments"
            ),
        )
    }
    for name in ("users", "submissions", "assessments"):
        figures = report.tables[name]
        assert figures.source_rows == len(getattr(data, name))
        assert figures.imported == stored[name] == len(getattr(data, name))
        assert figures.quarantined == 0 and figures.checksum_match
    assert report.tables["rate_limits"].source_rows == 3
    assert report.tables["rate_limits"].imported == stored["rate_limits"] == 4  # 3 - 1 merged + 2
    assert all(check.ok for check in report.checks)
    document = report.to_dict()
    assert next(iter(document)) == "verified" and document["verified"] is True
    assert document["versions"]["schema"] == migrate.head_revision()
    sequence = await fetch(target_url, "SELECT nextval(pg_get_serial_sequence('users', 'id'))")
    assert sequence[0][0] == 5
