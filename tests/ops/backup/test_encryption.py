"""Encrypted backups: round trip, wrong or missing key, and the stream format's own checks."""

from __future__ import annotations

import io
import os

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine
from bandwise.errors import BackupDamaged, BackupKeyMismatch
from bandwise.ops.backup import create_backup, restore_backup, verify_backup
from bandwise.ops.backup.crypto import EncryptingWriter, decrypt_stream
from testkit.backup import fingerprint


def _with_key(settings: Settings, key: str | None) -> Settings:
    return settings.model_copy(update={"backup_encryption_key": SecretStr(key) if key else None})


async def test_encrypted_round_trip_and_wrong_key(settings: Settings, seeded: AsyncEngine) -> None:
    keyed = _with_key(settings, "correct horse battery staple")
    manifest = await create_backup(keyed, seeded)
    data = manifest.data_path(settings.backup_dir)
    assert manifest.encrypted and data.name.endswith(".enc")
    assert b"candidate1" not in data.read_bytes()
    assert "correct horse" not in (settings.backup_dir / f"{manifest.id}.json").read_text()

    with pytest.raises(BackupKeyMismatch, match="not the key this backup was encrypted with"):
        await verify_backup(_with_key(settings, "wrong key"), seeded, manifest.id)
    with pytest.raises(BackupKeyMismatch, match="set BACKUP_ENCRYPTION_KEY"):
        await verify_backup(_with_key(settings, None), seeded, manifest.id)

    verified = await verify_backup(keyed, seeded, manifest.id)
    assert verified.verify_outcome == "passed", verified.verify_detail

    original = await fingerprint(seeded)
    target = (
        str(settings.backup_dir.parent / "enc.db")
        if settings.engine_name == "sqlite"
        else "bw_enc_restore"
    )
    await restore_backup(keyed, seeded, manifest.id, into=target)
    url = (
        f"sqlite+aiosqlite:///{target}"
        if settings.engine_name == "sqlite"
        else seeded.url.set(database=target).render_as_string(hide_password=False)
    )
    restored = create_engine(settings, url=url, null_pool=True)
    try:
        assert await fingerprint(restored) == original
    finally:
        await restored.dispose()
        if settings.engine_name == "postgresql":
            from testkit.backup import drop

            drop(settings, target)


def _encrypt(payload: bytes, chunk_size: int = 64) -> bytes:
    sink = io.BytesIO()
    writer = EncryptingWriter("k", sink, chunk_size=chunk_size)
    writer.write(payload)
    writer.close()
    return sink.getvalue()


@pytest.mark.parametrize("size", [0, 1, 64, 65, 1000])
def test_stream_round_trip_sizes(size: int) -> None:
    payload = os.urandom(size)
    assert b"".join(decrypt_stream("k", io.BytesIO(_encrypt(payload)), "x")) == payload


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda blob: blob[:-40], "truncated"),
        (lambda blob: blob[: len(blob) - (len(blob) - 60) % 84], "end marker is missing"),
        (lambda blob: blob + b"extra", "after the last chunk"),
        (lambda blob: blob[:120] + bytes([blob[120] ^ 1]) + blob[121:], "fails authentication"),
    ],
)
def test_stream_detects_tampering(mutate: object, message: str) -> None:
    blob = _encrypt(os.urandom(300))
    with pytest.raises(BackupDamaged, match=message):
        b"".join(decrypt_stream("k", io.BytesIO(mutate(blob)), "x"))  # type: ignore[operator]


@pytest.mark.parametrize("engine_name", ["postgresql"], indirect=True)
async def test_quick_verify_without_scratch_restore_still_authenticates(
    settings: Settings, seeded: AsyncEngine
) -> None:
    keyed = _with_key(settings, "k1")
    manifest = await create_backup(keyed, seeded)
    quick = await verify_backup(keyed, seeded, manifest.id, scratch_restore=False)
    assert quick.verify_outcome == "passed" and "no scratch restore" in (quick.verify_detail or "")

    with pytest.raises(BackupKeyMismatch):
        await verify_backup(_with_key(settings, "k2"), seeded, manifest.id, scratch_restore=False)
