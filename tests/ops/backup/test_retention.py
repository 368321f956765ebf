"""GFS retention over synthetic dates: day, week and month boundaries; newest verified kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bandwise.ops.backup import BackupManifest, plan_prune


def _manifest(moment: datetime, outcome: str | None = "passed") -> BackupManifest:
    return BackupManifest.model_validate(
        {
            "id": moment.strftime("%Y%m%dT%H%M%SZ"),
            "created_at": moment,
            "engine": "postgresql",
            "database": "bandwise",
            "file": "x.dump",
            "format": "pg_dump-custom",
            "server_version": "15",
            "row_counts": {},
            "max_ids": {},
            "size_bytes": 1,
            "sha256": "0",
            "duration_seconds": 1.0,
            "verify_outcome": outcome,
        }
    )


def _nightly(
    days: int, end: datetime = datetime(2026, 11, 24, 3, tzinfo=UTC)
) -> list[BackupManifest]:
    return [_manifest(end - timedelta(days=offset)) for offset in range(days)]


def _kept(manifests: list[BackupManifest], daily: int, weekly: int, monthly: int) -> set[str]:
    plan = plan_prune(manifests, keep_daily=daily, keep_weekly=weekly, keep_monthly=monthly)
    assert len(plan.keep) + len(plan.delete) == len(manifests)
    return {manifest.id for manifest, _ in plan.keep}


@pytest.mark.parametrize(
    ("daily", "weekly", "monthly", "expected"),
    [
        # 2026-11-24 is a Tuesday; ISO weeks start on Monday (the 23rd, 16th, 9th, 2nd).
        (7, 0, 0, {f"202611{day}T030000Z" for day in range(18, 25)}),
        (0, 4, 0, {"20261124T030000Z", "20261122T030000Z", "20261115T030000Z", "20261108T030000Z"}),
        (0, 0, 3, {"20261124T030000Z", "20261031T030000Z", "20260930T030000Z"}),
        (2, 2, 2, {"20261124T030000Z", "20261123T030000Z", "20261122T030000Z", "20261031T030000Z"}),
        (0, 0, 0, {"20261124T030000Z"}),
    ],
)
def test_gfs_keeps_newest_of_each_period(
    daily: int, weekly: int, monthly: int, expected: set[str]
) -> None:
    assert _kept(_nightly(90), daily, weekly, monthly) == expected


def test_several_backups_a_day_keep_the_newest_of_the_day() -> None:
    day = datetime(2026, 11, 24, tzinfo=UTC)
    manifests = [_manifest(day + timedelta(hours=hour)) for hour in (1, 9, 17)]
    assert _kept(manifests, 1, 0, 0) == {"20261124T170000Z"}


def test_newest_verified_is_never_deleted() -> None:
    manifests = _nightly(10)
    for index in range(5):  # the five newest failed verification
        manifests[index] = manifests[index].model_copy(update={"verify_outcome": "failed"})
    kept = _kept(manifests, 0, 0, 0)
    assert "20261119T030000Z" in kept  # newest verified
    assert "20261124T030000Z" in kept  # newest overall, kept for inspection


def test_failed_backups_fill_no_slot() -> None:
    manifests = _nightly(3)
    manifests[1] = manifests[1].model_copy(update={"verify_outcome": "failed"})
    assert _kept(manifests, 2, 0, 0) == {"20261124T030000Z", "20261122T030000Z"}


def test_reasons_are_reported() -> None:
    plan = plan_prune(_nightly(40), keep_daily=1, keep_weekly=1, keep_monthly=1)
    newest, reasons = plan.keep[0]
    assert newest.id == "20261124T030000Z"
    assert reasons == ["daily 2026-11-24", "weekly 2026-W48", "monthly 2026-11", "newest verified"]
