"""Backup manifests as the backup module writes them become metrics; damage is reported."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bandwise.ops.monitoring.backups import BackupCollector, list_backups, read_last_run

MANIFEST = {  # the shape of bandwise.ops.backup's manifest (extra keys are ignored)
    "id": "20261124T030000Z",
    "created_at": "2026-11-24T03:00:00Z",
    "engine": "postgresql",
    "database": "bandwise",
    "file": "20261124T030000Z.dump",
    "size_bytes": 123456,
    "sha256": "0" * 64,
    "duration_seconds": 4.5,
    "verified_at": "2026-11-24T03:05:00Z",
    "verify_outcome": "passed",
    "row_counts": {"users": 3},
}


def test_manifests_become_metrics(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "20261124T030000Z.json").write_text(json.dumps(MANIFEST))
    older = {
        **MANIFEST,
        "id": "20261123T030000Z",
        "created_at": "2026-11-23T03:00:00+00:00",
        "verify_outcome": "failed",
    }
    (tmp_path / "20261123T030000Z.json").write_text(json.dumps(older))
    (tmp_path / "broken.json").write_text(json.dumps({**MANIFEST, "created_at": 5}))
    (tmp_path / ".partial.json").write_text("{")
    (tmp_path / "schedule").mkdir()
    (tmp_path / "schedule" / "last-run.json").write_text(
        json.dumps(
            {
                "due_at": "2026-11-24T03:00:00+00:00",
                "finished_at": "2026-11-24T03:00:05+00:00",
                "succeeded": False,
                "detail": "pg_dump failed",
            }
        )
    )
    registry = CollectorRegistry()
    registry.register(BackupCollector(tmp_path))
    with caplog.at_level(logging.WARNING):
        records = list_backups(tmp_path)
        assert registry.get_sample_value("bandwise_backups") == 2
    assert [r.backup_id for r in records] == ["20261124T030000Z", "20261123T030000Z"]
    assert "broken.json: created_at must be an ISO timestamp" in caplog.text
    assert caplog.text.count("skipping backup manifest") == 1  # not at every scrape
    assert registry.get_sample_value("bandwise_backup_last_success_timestamp_seconds") == 1795489200
    assert registry.get_sample_value("bandwise_backup_last_size_bytes") == 123456
    assert registry.get_sample_value("bandwise_backup_last_duration_seconds") == 4.5
    assert registry.get_sample_value("bandwise_backup_last_verify_success") == 1
    assert registry.get_sample_value("bandwise_backup_last_run_success") == 0
    last_run = read_last_run(tmp_path)
    assert last_run is not None and not last_run.succeeded


def test_no_backups_no_backup_metrics(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    registry.register(BackupCollector(tmp_path / "missing"))
    assert registry.get_sample_value("bandwise_backups") == 0
    assert registry.get_sample_value("bandwise_backup_last_success_timestamp_seconds") is None
