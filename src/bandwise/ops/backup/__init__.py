"""Backups proven restorable: create, verify, restore, retain and schedule them.

The CLI (``bandwise backup …``), the cutover and the tests call these functions.
"""

from __future__ import annotations

from pathlib import Path

from bandwise.config import Settings
from bandwise.ops.backup.dump import create_backup
from bandwise.ops.backup.manifest import BackupManifest, list_manifests, read_manifest
from bandwise.ops.backup.restore import RestoreResult, restore_backup
from bandwise.ops.backup.retention import PrunePlan, plan_prune, prune
from bandwise.ops.backup.schedule import ScheduledRun, backup_cycle, next_run, run_schedule
from bandwise.ops.backup.sqlite_copy import copy_sqlite_online
from bandwise.ops.backup.status import BackupStatus, backup_status
from bandwise.ops.backup.verify import verify_all, verify_backup


def list_backups(settings: Settings) -> list[BackupManifest]:
    """Return the manifests of every backup in BACKUP_DIR, newest first."""
    return list_manifests(Path(settings.backup_dir))


__all__ = [
    "BackupManifest",
    "BackupStatus",
    "PrunePlan",
    "RestoreResult",
    "ScheduledRun",
    "backup_cycle",
    "backup_status",
    "copy_sqlite_online",
    "create_backup",
    "list_backups",
    "next_run",
    "plan_prune",
    "prune",
    "read_manifest",
    "restore_backup",
    "run_schedule",
    "verify_all",
    "verify_backup",
]
