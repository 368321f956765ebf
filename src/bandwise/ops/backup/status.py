"""A summary of BACKUP_DIR for monitoring and status pages: the last backup and its health."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bandwise.config import Settings
from bandwise.ops.backup.manifest import BackupManifest, list_manifests

LAST_RUN_FILE = Path("schedule/last-run.json")


@dataclass(frozen=True)
class BackupStatus:
    """What monitoring needs: the newest backup, the newest verified one, the last scheduled run."""

    count: int
    latest: BackupManifest | None
    latest_verified: BackupManifest | None
    last_run_at: datetime | None
    last_run_succeeded: bool | None
    last_run_detail: str | None

    @property
    def last_success_at(self) -> datetime | None:
        """Return when the newest backup that passed verification was made."""
        return self.latest_verified.created_at if self.latest_verified else None


def backup_status(settings: Settings) -> BackupStatus:
    """Summarise the backups in BACKUP_DIR and the scheduler's last run (never raises on damage)."""
    manifests = list_manifests(settings.backup_dir)
    latest_verified = next((item for item in manifests if item.is_verified), None)
    run_at: datetime | None = None
    succeeded: bool | None = None
    detail: str | None = None
    try:
        document = json.loads((settings.backup_dir / LAST_RUN_FILE).read_text(encoding="utf-8"))
        run_at = datetime.fromisoformat(str(document["finished_at"]))
        succeeded = bool(document["succeeded"])
        detail = str(document.get("detail") or "")
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no scheduler yet, or a damaged status file: report what the manifests say
    return BackupStatus(
        count=len(manifests),
        latest=manifests[0] if manifests else None,
        latest_verified=latest_verified,
        last_run_at=run_at,
        last_run_succeeded=succeeded,
        last_run_detail=detail,
    )
