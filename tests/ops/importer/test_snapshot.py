"""Held and copied snapshots: one consistent state of the source, and writers let go after."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bandwise.ops.importer.snapshot import check_integrity, open_snapshot
from testkit.legacy import write_generated_legacy_file
from testkit.waiting import wait_until


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.db"
    write_generated_legacy_file(path, 30, essay_words=(5, 10), feedback_chars=50)
    return path


def _insert_user(path: Path, user_id: int, timeout: float) -> None:
    with sqlite3.connect(path, timeout=timeout) as writer:
        writer.execute(
            "INSERT INTO users (id, telegram_id, first_name, created_at, is_pro, "
            "daily_submissions) VALUES (?, ?, 'new', '2024-06-01 10:00:00.000000', 0, 0)",
            (user_id, 9_000_000 + user_id),
        )
    writer.close()


def test_rollback_journal_file_is_held_in_place_and_released(source: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    snapshot = open_snapshot(source, scratch)
    try:
        assert snapshot.is_held and snapshot.path == source
        assert list(scratch.iterdir()) == []  # nothing copied
        before = snapshot.count("users")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _insert_user(source, 10_001, timeout=0.1)  # the old bot's write waits meanwhile
        check_integrity(snapshot)
        assert snapshot.count("users") == before
    finally:
        snapshot.close()
    _insert_user(source, 10_002, timeout=1)  # released: the old bot writes again
    snapshot.close()  # idempotent


def test_wal_file_is_copied(source: Path, tmp_path: Path) -> None:
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA journal_mode=wal")
    connection.close()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    snapshot = open_snapshot(source, scratch)
    try:
        assert not snapshot.is_held and snapshot.path.parent == scratch
        _insert_user(source, 10_003, timeout=1)  # a copy does not hold the source
        assert snapshot.count("users") == 30
    finally:
        snapshot.close()


def _readers_refused(source: Path) -> bool:
    """Tell whether a new reader is refused (a writer waiting to commit holds PENDING)."""
    probe = sqlite3.connect(source, timeout=0)
    try:
        probe.execute("SELECT count(*) FROM users").fetchone()
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()
    return False


def test_a_committing_writer_is_let_through_before_the_snapshot_is_held(
    source: Path, tmp_path: Path
) -> None:
    # A reader of the old bot holds SHARED; the writer then waits to commit, holding PENDING,
    # which refuses new readers. The snapshot must back off and retry, not deadlock.
    reader = sqlite3.connect(source, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM users").fetchone()
    writer = threading.Thread(target=_insert_user, args=(source, 10_004, 5.0))
    writer.start()
    wait_until(lambda: _readers_refused(source), timeout=10, what="the writer holds PENDING")
    release = threading.Timer(0.3, lambda: reader.execute("ROLLBACK"))
    release.start()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    snapshot = open_snapshot(source, scratch)
    try:
        writer.join(timeout=5)
        assert snapshot.is_held
        assert snapshot.count("users") == 31  # the writer committed first
    finally:
        snapshot.close()
        release.join()
        reader.close()
