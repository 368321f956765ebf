"""The JSON manifest written beside each backup, and listing the backups of a directory.

Contract (the monitoring reads it): ``BACKUP_DIR/<id>.json`` with ``id``, ``created_at`` (ISO
UTC), ``engine``, ``database``, ``server_version``, ``pg_dump_version``, ``schema_revision``,
``row_counts``, ``max_ids``, ``size_bytes``, ``sha256``, ``duration_seconds``, ``label``,
``encrypted``, ``verified_at``, ``verify_outcome`` ("passed"/"failed"/null), ``verify_detail``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError, field_validator

from bandwise.errors import NotFound, OperationFailed
from bandwise.ops.backup.files import write_text_atomically

log = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".json"
VerifyOutcome = Literal["passed", "failed"]


class BackupManifest(BaseModel):
    """What a backup holds and how it was checked."""

    id: str
    created_at: datetime
    engine: Literal["postgresql", "sqlite"]
    database: str
    file: str
    format: Literal["pg_dump-custom", "sqlite"]
    server_version: str
    pg_dump_version: str | None = None
    schema_revision: str | None = None
    row_counts: dict[str, int]
    max_ids: dict[str, int | None]
    size_bytes: int
    sha256: str
    duration_seconds: float
    label: str | None = None
    encrypted: bool = False
    verified_at: datetime | None = None
    verify_outcome: VerifyOutcome | None = None
    verify_detail: str | None = None

    @field_validator("created_at", "verified_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (UTC)")
        return value.astimezone(UTC) if value is not None else None

    def data_path(self, directory: Path) -> Path:
        """Return the path of the backup's data file in ``directory``."""
        return directory / self.file

    @property
    def is_verified(self) -> bool:
        """Tell whether the last verification passed."""
        return self.verify_outcome == "passed"


def manifest_path(directory: Path, backup_id: str) -> Path:
    """Return where the manifest of ``backup_id`` lives."""
    return directory / f"{backup_id}{MANIFEST_SUFFIX}"


def write_manifest(directory: Path, manifest: BackupManifest) -> Path:
    """Write ``manifest`` atomically beside its backup and return its path."""
    path = manifest_path(directory, manifest.id)
    write_text_atomically(path, manifest.model_dump_json(indent=2) + "\n")
    return path


def read_manifest(directory: Path, backup_id: str) -> BackupManifest:
    """Read the manifest of ``backup_id``; NotFound when absent, OperationFailed when corrupt."""
    if "/" in backup_id or backup_id.startswith("."):
        raise NotFound(f"no backup {backup_id!r}: ids are file names without a directory")
    path = manifest_path(directory, backup_id)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(
            f"no backup {backup_id!r} in {directory} (see `bandwise backup list`)"
        ) from None
    try:
        return BackupManifest.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "document"
        raise OperationFailed(f"manifest {path} is damaged: {where}: {first.get('msg')}") from None


def list_manifests(directory: Path) -> list[BackupManifest]:
    """Return every readable manifest in ``directory``, newest first (damaged ones logged)."""
    if not directory.is_dir():
        return []
    manifests: list[BackupManifest] = []
    for path in directory.glob(f"*{MANIFEST_SUFFIX}"):
        if path.name.startswith("."):
            continue
        try:
            manifests.append(read_manifest(directory, path.stem))
        except OperationFailed as error:
            log.error("%s", error)
    manifests.sort(key=lambda item: (item.created_at, item.id), reverse=True)
    return manifests


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)
