"""Read backup manifests (``BACKUP_DIR/<id>.json``) for metrics, alerts and the status views.

The contract with the backup module: each manifest is a JSON object with ``created_at`` (ISO
UTC), ``size_bytes``, ``duration_seconds``, ``verified_at`` and ``verify_outcome``
(``"passed"``, ``"failed"`` or null). A manifest that does not follow it is reported, not
guessed at. The backup scheduler also records its last run in ``schedule/last-run.json``
(``finished_at``, ``succeeded``): a failed run leaves no manifest, so that file is where it shows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)


# (engine, database) as a manifest records them: PostgreSQL's database name, SQLite's file name.
BackupOrigin = tuple[str, str]


def backup_origin(url: str | URL) -> BackupOrigin:
    """Return the origin that backups of the database at ``url`` record."""
    parsed = make_url(url) if isinstance(url, str) else url
    engine = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    database = parsed.database or ""
    return engine, Path(database).name if engine == "sqlite" else database


@dataclass(frozen=True)
class BackupRecord:
    """One backup as its manifest describes it."""

    backup_id: str
    created_at: datetime
    size_bytes: int
    duration_seconds: float
    verified_at: datetime | None
    verify_outcome: str | None
    # Where it was taken from (None in manifests that do not say): its engine and database.
    origin: BackupOrigin | None = None

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready form."""
        return {
            "id": self.backup_id,
            "created_at": self.created_at.isoformat(),
            "size_bytes": self.size_bytes,
            "duration_seconds": self.duration_seconds,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "verify_outcome": self.verify_outcome,
        }


def _timestamp(value: object, key: str, path: Path) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{path.name}: {key} must be an ISO timestamp, got {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_manifest(path: Path) -> BackupRecord:
    """Read one manifest; raise ValueError naming the file and the bad key."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: not a JSON object")
    outcome = data.get("verify_outcome")
    if outcome not in (None, "passed", "failed"):
        raise ValueError(
            f"{path.name}: verify_outcome must be passed, failed or null, got {outcome!r}"
        )
    verified = data.get("verified_at")
    engine, database = data.get("engine"), data.get("database")
    return BackupRecord(
        backup_id=str(data.get("id") or path.stem),
        created_at=_timestamp(data.get("created_at"), "created_at", path),
        size_bytes=int(data.get("size_bytes", 0)),
        duration_seconds=float(data.get("duration_seconds", 0.0)),
        verified_at=_timestamp(verified, "verified_at", path) if verified is not None else None,
        verify_outcome=outcome,
        origin=(str(engine), str(database)) if engine and database else None,
    )


_warned: dict[Path, float] = {}


def _warn_once(path: Path, message: str) -> None:
    # Manifests are read at every scrape: say it once per version of a damaged file.
    try:
        version = path.stat().st_mtime
    except OSError:
        version = 0.0
    if _warned.get(path) != version:
        _warned[path] = version
        log.warning("%s", message)


def list_backups(backup_dir: Path, origin: BackupOrigin | None = None) -> list[BackupRecord]:
    """Return every readable backup in ``backup_dir``, newest first (bad manifests logged).

    With ``origin``, only backups of that database (and those whose manifest does not say):
    the backup directory may hold backups of another engine's database.
    """
    if not backup_dir.is_dir():
        return []
    records: list[BackupRecord] = []
    for path in sorted(backup_dir.glob("*.json")):
        if path.name.startswith("."):  # a backup still being written
            continue
        try:
            records.append(parse_manifest(path))
        except (OSError, ValueError, TypeError) as error:
            _warn_once(path, f"skipping backup manifest {path}: {error}")
    if origin is not None:
        records = [record for record in records if record.origin in (None, origin)]
    return sorted(records, key=lambda record: record.created_at, reverse=True)


def last_verified(records: list[BackupRecord]) -> BackupRecord | None:
    """Return the newest backup that has a verification outcome."""
    return next((record for record in records if record.verify_outcome is not None), None)


LAST_RUN_FILE = Path("schedule") / "last-run.json"


@dataclass(frozen=True)
class ScheduledRunRecord:
    """The backup scheduler's last run."""

    finished_at: datetime
    succeeded: bool


def read_last_run(backup_dir: Path) -> ScheduledRunRecord | None:
    """Return the scheduler's last run, or None when it never ran (damage is logged)."""
    path = backup_dir / LAST_RUN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ScheduledRunRecord(
            _timestamp(data.get("finished_at"), "finished_at", path), bool(data["succeeded"])
        )
    except (OSError, ValueError, TypeError, KeyError) as error:
        _warn_once(path, f"unreadable backup schedule record {path}: {error}")
        return None


class BackupCollector(Collector):
    """Export the newest backup's age, size, duration and verification at scrape time."""

    def __init__(self, backup_dir: Path, origin: BackupOrigin | None = None) -> None:
        self._backup_dir = backup_dir
        self._origin = origin

    def collect(self) -> Iterator[Metric]:
        records = list_backups(self._backup_dir, self._origin)
        yield GaugeMetricFamily(
            "bandwise_backups", "Backups with a readable manifest.", value=len(records)
        )
        last_run = read_last_run(self._backup_dir)
        if last_run is not None:
            yield GaugeMetricFamily(
                "bandwise_backup_last_run_success",
                "1 when the scheduler's last backup run succeeded.",
                value=1.0 if last_run.succeeded else 0.0,
            )
            yield GaugeMetricFamily(
                "bandwise_backup_last_run_timestamp_seconds",
                "Unix time the scheduler's last backup run finished.",
                value=last_run.finished_at.timestamp(),
            )
        if not records:
            return
        newest = records[0]
        yield GaugeMetricFamily(
            "bandwise_backup_last_success_timestamp_seconds",
            "Unix time of the newest backup.",
            value=newest.created_at.timestamp(),
        )
        yield GaugeMetricFamily(
            "bandwise_backup_last_size_bytes", "Size of the newest backup.", value=newest.size_bytes
        )
        yield GaugeMetricFamily(
            "bandwise_backup_last_duration_seconds",
            "Seconds the newest backup took.",
            value=newest.duration_seconds,
        )
        verified = last_verified(records)
        if verified is not None:
            yield GaugeMetricFamily(
                "bandwise_backup_last_verify_success",
                "1 when the newest verified backup passed, 0 when it failed.",
                value=1.0 if verified.verify_outcome == "passed" else 0.0,
            )
            if verified.verified_at is not None:
                yield GaugeMetricFamily(
                    "bandwise_backup_last_verify_timestamp_seconds",
                    "Unix time of the newest verification.",
                    value=verified.verified_at.timestamp(),
                )
