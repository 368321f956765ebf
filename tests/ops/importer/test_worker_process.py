"""Converting in a worker process gives the same rows, figures, checksums and bad rows."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from bandwise.config import Settings
from bandwise.errors import ImportFailed
from bandwise.ops.importer import ImportOptions, ImportReport, import_sqlite
from bandwise.ops.importer.snapshot import take_snapshot
from testkit.importer import fetch
from testkit.legacy import (
    bad_legacy_data,
    bot_written_legacy_data,
    conversion_legacy_data,
    write_generated_legacy_file,
    write_legacy_file,
)
from testkit.legacy_shapes import SHAPES, write_shaped_legacy_file
from testkit.respellings import respelling_legacy_data


def _outcome(report: ImportReport) -> dict[str, Any]:
    """Return what both paths must agree on (everything but timings)."""
    tables = {
        name: {key: value for key, value in asdict(figures).items() if key != "seconds"}
        for name, figures in report.tables.items()
    }
    return {
        "verified": report.verified,
        "tables": tables,
        "transformation_counts": report.transformation_counts,
        "transformations": report.transformations,
        "quarantined": report.quarantined,
        "bad_value_totals": report.bad_value_totals,
        "bad_row_totals": report.bad_row_totals,
        "bad_values": report.bad_values,
    }


async def _stored(url: str) -> dict[str, list[Any]]:
    return {
        name: [tuple(row) for row in await fetch(url, f"SELECT * FROM {name} ORDER BY id")]
        for name in ("users", "submissions", "rate_limits", "assessments", "import_quarantine")
    }


async def _both_ways(source: Path, url: str, settings: Settings, **options: Any) -> None:
    outcomes, stored = [], []
    for in_worker in (False, True):
        report = await import_sqlite(
            source,
            url,
            settings,
            ImportOptions(replace=True, convert_in_worker=in_worker, **options),
        )
        assert report.verified and report.committed
        outcomes.append(_outcome(report))
        rows = await _stored(url)
        for row in rows["import_quarantine"]:
            assert row[5] is not None  # quarantined_at
        rows["import_quarantine"] = [row[1:5] for row in rows["import_quarantine"]]
        stored.append(rows)
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]


async def test_worker_process_converts_every_spelling_identically(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, conversion_legacy_data())
    await _both_ways(legacy_path, target_url, import_settings)


async def test_worker_process_repairs_the_same_telegram_id_rows(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bot_written_legacy_data())
    await _both_ways(legacy_path, target_url, import_settings, on_bad_rows="quarantine")


async def test_worker_process_quarantines_the_same_rows(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bad_legacy_data())
    await _both_ways(legacy_path, target_url, import_settings, on_bad_rows="quarantine")


async def test_worker_process_gives_identical_checksums_over_many_batches(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_generated_legacy_file(legacy_path, 400, essay_words=(5, 10), feedback_chars=50)
    await _both_ways(legacy_path, target_url, import_settings)


async def test_worker_process_abort_names_the_bad_values(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bad_legacy_data())
    with pytest.raises(ImportFailed) as caught:
        await import_sqlite(
            legacy_path, target_url, import_settings, ImportOptions(convert_in_worker=True)
        )
    assert "users id=5 telegram_id='n/a'" in str(caught.value)
    assert caught.value.report.bad_value_totals == {
        "unconvertible": 3,
        "orphan": 1,
        "parent_set_aside": 3,
    }
    assert not caught.value.report.committed


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_snapshot_holds_every_committed_row_in_either_journal_mode(
    tmp_path: Path, journal_mode: str
) -> None:
    source = tmp_path / "legacy.db"
    write_generated_legacy_file(source, 50, essay_words=(5, 10), feedback_chars=50)
    writer = sqlite3.connect(source)
    writer.execute(f"PRAGMA journal_mode={journal_mode}")
    if journal_mode == "wal":
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the new rows stay in the -wal file
    with writer:
        writer.execute("DELETE FROM rate_limits WHERE id > 10")
        writer.execute("UPDATE users SET first_name = 'changed' WHERE id = 3")
    expected = writer.execute("SELECT count(*), max(id) FROM rate_limits").fetchone()
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    snapshot = take_snapshot(source, scratch)  # while the writer's connection is open

    writer.close()
    copy = sqlite3.connect(snapshot.path)
    assert copy.execute("SELECT count(*), max(id) FROM rate_limits").fetchone() == expected
    assert copy.execute("SELECT first_name FROM users WHERE id = 3").fetchone() == ("changed",)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_every_data_shape_imports_identically_on_both_paths(
    shape: str, legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # rate_heavy and issue15 take the SQLite merge of rate_limits, the others the walk over
    # converted rows: both must give the Python path's rows and transformations, in order.
    write_shaped_legacy_file(legacy_path, 300, SHAPES[shape])
    await _both_ways(legacy_path, target_url, import_settings, on_bad_rows="quarantine")


async def test_respelled_rows_import_identically_on_both_paths(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # Every spelling SQLite respells, its neighbours, Telegram ids and NUL bytes, combined.
    write_legacy_file(legacy_path, respelling_legacy_data())
    await _both_ways(legacy_path, target_url, import_settings, on_bad_rows="quarantine")
