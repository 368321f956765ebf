"""The CLI's head start: the source is held and checked before the importer loads, same result.

``db import-sqlite`` takes the held snapshot and starts ``PRAGMA integrity_check`` before it
imports SQLAlchemy, the models and asyncpg (:mod:`bandwise.ops.importer.headstart`). The
import must verify exactly as without it, a corrupt file must still commit nothing, and the
source must be released on every way out, used or not.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bandwise.cli.main import app
from bandwise.config import Settings
from bandwise.errors import InvalidInput
from bandwise.ops.importer import ImportOptions, import_sqlite
from bandwise.ops.importer.headstart import head_start
from testkit.importer import table_counts
from testkit.legacy import break_an_index, quirky_legacy_data, write_legacy_file


def _write_now(path: Path) -> None:
    """Write to ``path`` without waiting for a lock: fails while a reader still holds it."""
    connection = sqlite3.connect(path, timeout=0)
    try:
        connection.execute("CREATE TABLE written_after (id INTEGER)")
        connection.commit()
    finally:
        connection.close()


async def test_an_import_with_a_head_start_verifies_and_releases_the_source(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())

    with head_start(legacy_path, copied=False) as early:
        assert early is not None
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _write_now(legacy_path)  # held: the old bot cannot write under the import
        report = await import_sqlite(
            legacy_path, target_url, import_settings, ImportOptions(), early
        )
        _write_now(legacy_path)  # released by the import itself, before the context ends

    assert report.verified and report.committed and report.snapshot == "held"
    assert {"head_start_seconds", "integrity_check_seconds"} <= set(report.timings)
    assert report.timings["total_seconds"] >= report.timings["head_start_seconds"]
    assert (await table_counts(target_url))["users"] == 3


async def test_a_corrupt_file_caught_by_the_head_start_commits_nothing(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    break_an_index(legacy_path)

    with (
        head_start(legacy_path, copied=False) as early,
        pytest.raises(InvalidInput, match="integrity_check failed") as caught,
    ):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions(), early)

    assert str(legacy_path) in str(caught.value)
    assert set((await table_counts(target_url)).values()) == {0}
    _write_now(legacy_path)


def test_a_wal_or_copied_source_gets_no_head_start(legacy_path: Path) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    with head_start(legacy_path, copied=True) as early:
        assert early is None  # --copy-source / --worker-process: the import copies it
    connection = sqlite3.connect(legacy_path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()
    with head_start(legacy_path, copied=False) as early:
        assert early is None  # WAL: a consistent copy is taken instead of a held snapshot


def test_an_unused_head_start_ends_its_check_and_releases_the_source(legacy_path: Path) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())

    with (
        pytest.raises(RuntimeError, match="the command failed"),
        head_start(legacy_path, copied=False) as early,
    ):
        assert early is not None
        raise RuntimeError("the command failed before the import started")

    assert early.check.done()  # finished or interrupted, never left reading the file
    assert early.snapshot.held == {}
    _write_now(legacy_path)
    early.close()  # idempotent


@pytest.mark.parametrize("source", ["missing", "not-sqlite"])
def test_a_bad_source_is_named_by_the_head_start(legacy_path: Path, source: str) -> None:
    if source == "not-sqlite":
        legacy_path.write_bytes(b"this is not a database at all")
    with pytest.raises(InvalidInput) as caught, head_start(legacy_path, copied=False):
        pass
    assert str(legacy_path) in str(caught.value)


def test_the_command_reports_a_corrupt_file_and_leaves_the_target_empty(
    legacy_path: Path, target_url: str
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    break_an_index(legacy_path)

    result = CliRunner().invoke(
        app, ["db", "import-sqlite", str(legacy_path)], env={"DATABASE_URL": target_url}
    )

    assert result.exit_code != 0
    assert "integrity_check failed" in result.output and str(legacy_path) in result.output
    assert "Traceback" not in result.output
    assert set(asyncio.run(table_counts(target_url)).values()) == {0}
    _write_now(legacy_path)
