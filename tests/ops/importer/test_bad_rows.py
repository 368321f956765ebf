"""Bad rows: abort names them and commits nothing; quarantine sets them (and children) aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bandwise.config import Settings
from bandwise.errors import ImportFailed
from bandwise.ops.importer import ImportOptions, import_sqlite, verify_import
from testkit.importer import fetch, table_counts
from testkit.legacy import bad_legacy_data, quirky_legacy_data, write_legacy_file


async def test_abort_names_the_bad_values_and_commits_nothing(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bad_legacy_data())

    with pytest.raises(ImportFailed) as caught:
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    message = str(caught.value)
    assert "users id=5 telegram_id='n/a'" in message
    assert "submissions id=17 submitted_at='2025-02-30 10:00:00'" in message
    assert "submissions id=16 user_id=99: no users row with id 99 (orphan)" in message
    assert "assessments id=1005 task_achievement_score=6.555" in message
    report = caught.value.report
    assert report.verified is False and report.committed is False
    assert report.bad_value_totals == {"unconvertible": 3, "orphan": 1, "parent_set_aside": 3}
    assert set((await table_counts(target_url)).values()) == {0}


async def test_quarantine_sets_rows_and_their_children_aside(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bad_legacy_data())

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )

    assert report.verified and report.committed
    stored = await fetch(
        target_url,
        "SELECT source_table, source_id, reason, row_data "
        "FROM import_quarantine ORDER BY source_table, source_id",
    )
    assert [(r["source_table"], r["source_id"]) for r in stored] == [
        ("assessments", 1004),
        ("assessments", 1005),
        ("rate_limits", 103),
        ("submissions", 15),
        ("submissions", 16),
        ("submissions", 17),
        ("users", 5),
    ]
    reasons = {(r["source_table"], r["source_id"]): r["reason"] for r in stored}
    assert "parent_set_aside" in reasons[("assessments", 1004)]  # follows submission 17
    assert "parent_set_aside" in reasons[("submissions", 15)]  # follows user 5
    assert "orphan" in reasons[("submissions", 16)]
    assert json.loads(stored[-1]["row_data"])["telegram_id"] == "n/a"  # the row kept whole
    good = quirky_legacy_data()
    assert report.tables["users"].imported == len(good.users)
    assert report.tables["submissions"].imported == len(good.submissions)
    assert report.tables["submissions"].quarantined == 3
    assert report.tables["assessments"].quarantined == 2
    assert len(report.quarantined) == 7
    counts = await table_counts(target_url)
    assert counts["users"] == 3 and counts["submissions"] == 3 and counts["import_quarantine"] == 7
    assert (await verify_import(legacy_path, target_url, import_settings)).verified


async def test_strict_aborts_instead_of_removing_nul_bytes(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    data = quirky_legacy_data()
    data.submissions[0]["text"] = "essay with a \x00 byte"
    write_legacy_file(legacy_path, data)

    with pytest.raises(ImportFailed, match="--strict") as caught:
        await import_sqlite(
            legacy_path,
            target_url,
            import_settings,
            ImportOptions(strict=True, on_bad_rows="quarantine"),
        )

    assert "submissions id=10 text=" in str(caught.value)
    assert set((await table_counts(target_url)).values()) == {0}
