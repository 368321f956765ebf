"""Damaged backups: a flipped byte or a truncated file fails verification and blocks restore."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.errors import BackupDamaged, Conflict, NotFound
from bandwise.ops.backup import create_backup, read_manifest, restore_backup, verify_backup


def _flip_byte(path: object, offset_from_end: int = 100) -> None:
    with open(str(path), "r+b") as handle:
        handle.seek(-offset_from_end, 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))


async def test_flipped_byte_fails_verify_and_restore_refuses(
    settings: Settings, seeded: AsyncEngine
) -> None:
    manifest = await create_backup(settings, seeded)
    _flip_byte(manifest.data_path(settings.backup_dir))

    checked = await verify_backup(settings, seeded, manifest.id)

    assert checked.verify_outcome == "failed"
    assert "SHA-256 differs" in (checked.verify_detail or "")
    assert read_manifest(settings.backup_dir, manifest.id).verify_outcome == "failed"
    with pytest.raises(Conflict, match="failed verification"):
        await restore_backup(settings, seeded, manifest.id)


async def test_verified_then_tampered_backup_is_refused_at_restore(
    settings: Settings, seeded: AsyncEngine
) -> None:
    manifest = await create_backup(settings, seeded)
    assert (await verify_backup(settings, seeded, manifest.id)).verify_outcome == "passed"
    _flip_byte(manifest.data_path(settings.backup_dir), 10)

    with pytest.raises(BackupDamaged, match="SHA-256"):
        await restore_backup(settings, seeded, manifest.id)


async def test_truncated_file_fails_verify(settings: Settings, seeded: AsyncEngine) -> None:
    manifest = await create_backup(settings, seeded)
    path = manifest.data_path(settings.backup_dir)
    path.write_bytes(path.read_bytes()[: manifest.size_bytes // 2])

    checked = await verify_backup(settings, seeded, manifest.id)

    assert checked.verify_outcome == "failed"
    assert "truncated" in (checked.verify_detail or "")


async def test_damaged_file_with_matching_manifest_fails_by_restore(
    settings: Settings, seeded: AsyncEngine
) -> None:
    """An archive damaged before its checksum was taken is caught by the restore itself."""
    manifest = await create_backup(settings, seeded)
    path = manifest.data_path(settings.backup_dir)
    path.write_bytes(path.read_bytes()[: manifest.size_bytes // 2])
    from bandwise.ops.backup.files import sha256_of
    from bandwise.ops.backup.manifest import write_manifest

    forged = manifest.model_copy(
        update={"size_bytes": path.stat().st_size, "sha256": sha256_of(path)}
    )
    write_manifest(settings.backup_dir, forged)

    checked = await verify_backup(settings, seeded, manifest.id)

    assert checked.verify_outcome == "failed", checked.verify_detail


async def test_unknown_backup_id_is_not_found(settings: Settings, seeded: AsyncEngine) -> None:
    with pytest.raises(NotFound, match="no backup 'nope'"):
        await verify_backup(settings, seeded, "nope")
