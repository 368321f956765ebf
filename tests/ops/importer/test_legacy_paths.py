"""A legacy file written by the bot's own handlers: every path puts every row in the same place.

Telegram ids stored as user ids, deleted users, duplicate rate limits, counters on the user,
NUL bytes: through the import (abort, quarantine), the in-place upgrade (refuse, quarantine)
and the cutover rehearsal.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bandwise.config import Settings, load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import ImportFailed, MigrationError
from bandwise.models import Base
from bandwise.ops.cutover import CutoverOptions, run_cutover
from bandwise.ops.importer import ImportOptions, import_sqlite, verify_import
from testkit.importer import fetch, table_counts
from testkit.legacy import (
    BOT_TELEGRAM_IDS,
    bot_written_legacy_data,
    write_legacy_file,
)
from testkit.service import subprocess_env

MODEL_TABLES = ("users", "submissions", "rate_limits", "assessments", "import_quarantine")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain(value: Any) -> Any:
    """Return a value as both engines should agree on it (NULs removed, as documented)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


async def _rows(url: str, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of the legacy tables and the quarantine, read through the models."""
    engine = create_engine(settings, url=url, null_pool=True)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as connection:
            for name in MODEL_TABLES:
                table = Base.metadata.tables[name]
                rows = (await connection.execute(select(table))).mappings().all()
                if name == "import_quarantine":  # ids and times are the moment's
                    out[name] = sorted(
                        (
                            row["source_table"],
                            row["source_id"],
                            row["reason"],
                            _plain(row["row_data"]),
                        )
                        for row in rows
                    )
                else:
                    out[name] = sorted(
                        tuple(_plain(value) for value in row.values()) for row in rows
                    )
    finally:
        await engine.dispose()
    return out


async def test_import_repairs_telegram_ids_and_refuses_orphans_by_default(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bot_written_legacy_data())

    with pytest.raises(ImportFailed) as caught:
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    message = str(caught.value)
    assert "submissions id=6 user_id=4: no users row with id 4 (orphan)" in message
    assert "rate_limits id=6" in message
    # An empty target stays empty: no rows, no tables, no types left by the failed import.
    assert set((await table_counts(target_url)).values()) == {0}
    assert not await fetch(
        target_url,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() UNION ALL SELECT t.typname FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() AND t.typtype = 'e'",
    )

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )
    assert report.verified and report.committed
    counts = report.transformation_counts
    assert counts["submissions.user_id:user_id_from_telegram_id"] == 4
    assert counts["rate_limits.user_id:user_id_from_telegram_id"] == 4
    # Set aside: submissions 6 and 7, the assessment of 6, rate limit 6; nothing else.
    assert {(row.table, row.source_id) for row in report.quarantined} == {
        ("submissions", 6),
        ("submissions", 7),
        ("assessments", 106),
        ("rate_limits", 6),
    }
    assert report.bad_row_totals == {"orphan": 3, "parent_set_aside": 1}
    assert report.bad_rows == 4
    rows = await _rows(target_url, import_settings)
    by_submission = {row[0]: row[1] for row in rows["submissions"]}
    assert by_submission == {1: 1, 2: 1, 3: 2, 4: 2, 5: 3}
    assert {row[0] for row in rows["assessments"]} == {101, 102, 103, 105}
    limits = {(row[1], row[2].isoformat()): (row[0], row[3], row[4]) for row in rows["rate_limits"]}
    assert limits[(1, "2024-09-24")][:2] == (1, 2)  # rows 1 and 2 merged, lowest id kept
    assert limits[(1, "2024-09-25")][:2] == (3, 2)  # counter 1 absorbed by the larger row
    assert limits[(2, "2024-09-23")][:2] == (4, 2)  # duplicates 4 and 5 merged
    # Users 2 and 3's counters became rows created at 00:00 UTC of their day.
    assert limits[(2, "2024-09-25")] == (8, 2, datetime(2024, 9, 25, tzinfo=UTC))
    assert limits[(3, "2024-09-25")] == (9, 3, datetime(2024, 9, 25, tzinfo=UTC))
    assert len(rows["rate_limits"]) == 6
    # NUL bytes: counted only where the row was imported.
    assert counts["submissions.text:nul_removed"] == 1
    assert counts["assessments.detailed_feedback:nul_removed"] == 1
    assert (await verify_import(legacy_path, target_url, import_settings)).verified


async def test_in_place_upgrade_refuses_orphans_and_leaves_the_file_byte_identical(
    legacy_path: Path,
) -> None:
    write_legacy_file(legacy_path, bot_written_legacy_data())
    before = _digest(legacy_path)
    engine = create_engine(load_settings(database_url=f"sqlite:///{legacy_path}"), null_pool=True)
    try:
        with pytest.raises(MigrationError) as caught:
            await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    message = str(caught.value)
    assert "submissions id=6: user_id=4: no users row with id 4 (orphan)" in message
    assert "--quarantine-orphans" in message
    assert _digest(legacy_path) == before
    with sqlite3.connect(legacy_path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "alembic_version" not in tables


async def test_in_place_upgrade_and_import_put_every_row_in_the_same_place(
    tmp_path: Path, target_url: str, import_settings: Settings
) -> None:
    source = write_legacy_file(tmp_path / "legacy.db", bot_written_legacy_data())
    in_place = tmp_path / "in-place.db"
    in_place.write_bytes(source.read_bytes())

    report = await import_sqlite(
        source, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )
    assert report.verified
    settings = load_settings(database_url=f"sqlite:///{in_place}")
    engine = create_engine(settings, null_pool=True)
    try:
        await migrate.upgrade(engine, orphans="quarantine")
    finally:
        await engine.dispose()

    imported = await _rows(target_url, import_settings)
    upgraded = await _rows(f"sqlite:///{in_place}", settings)
    for name in MODEL_TABLES:
        assert upgraded[name] == imported[name], name


async def test_rehearsal_of_a_bot_written_file_with_nul_bytes_succeeds(
    tmp_path: Path, target_url: str
) -> None:
    source = write_legacy_file(tmp_path / "legacy.db", bot_written_legacy_data())
    settings = load_settings(
        database_url=f"sqlite:///{source}",
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
    )
    report = await run_cutover(
        settings,
        CutoverOptions(
            sqlite_path=source,
            postgres_url=target_url,
            rehearse=True,
            service_stopped=True,
            on_bad_rows="quarantine",
            sample_users=len(BOT_TELEGRAM_IDS),
        ),
    )
    assert report.succeeded, (report.failure, report.steps)
    smoke = next(step for step in report.steps if step.name == "smoke_test")
    assert "3 sampled histories identical" in smoke.detail


async def test_every_number_of_the_report_is_what_landed(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, bot_written_legacy_data())
    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )
    with sqlite3.connect(legacy_path) as connection:
        source = {
            name: {row[0]: row for row in connection.execute(f"SELECT * FROM {name}")}
            for name in ("users", "submissions", "rate_limits", "assessments")
        }
    quarantined = await fetch(target_url, "SELECT source_table, source_id FROM import_quarantine")
    set_aside = {(row[0], row[1]) for row in quarantined}
    stored = {
        name: {row[0]: tuple(row) for row in await fetch(target_url, f"SELECT * FROM {name}")}
        for name in ("users", "submissions", "rate_limits", "assessments")
    }
    for name in ("users", "submissions", "assessments"):  # one row in, one row out
        figures = report.tables[name]
        assert figures.source_rows == len(source[name])
        assert figures.imported == figures.target_rows == len(stored[name])
        assert figures.quarantined == sum(1 for table, _ in set_aside if table == name)
        assert figures.source_rows == figures.imported + figures.quarantined
        assert figures.checksum_match
    assert report.tables["rate_limits"].imported == len(stored["rate_limits"])
    assert report.bad_rows == len(set_aside) == len(report.quarantined)
    assert sum(report.bad_row_totals.values()) == len(set_aside)  # one kind per row here
    # Transformations, counted on imported rows only (submission 7 has a NUL too, set aside).
    nul_texts = [
        row_id
        for row_id, row in source["submissions"].items()
        if "\x00" in row[2] and row_id in stored["submissions"]
    ]
    assert report.transformation_counts["submissions.text:nul_removed"] == len(nul_texts)
    for name in ("submissions", "rate_limits"):
        repaired = [
            row_id
            for row_id, row in source[name].items()
            if row_id in stored[name] and stored[name][row_id][1] != row[1]
        ]
        merged_away = [
            row_id
            for row_id, row in source[name].items()
            if row_id not in stored[name]
            and (name, row_id) not in set_aside
            and row[1] in BOT_TELEGRAM_IDS.values()
        ]
        key = f"{name}.user_id:user_id_from_telegram_id"
        assert report.transformation_counts[key] == len(repaired) + len(merged_away)
    listed = {(t.table, t.source_id) for t in report.transformations if t.kind == "nul_removed"}
    assert ("submissions", 7) not in listed


def test_cli_upgrade_names_orphans_then_quarantines_them_on_request(
    bandwise_executable: str, legacy_path: Path
) -> None:
    write_legacy_file(legacy_path, bot_written_legacy_data())
    before = _digest(legacy_path)

    def bandwise(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bandwise_executable, "db", "upgrade", *args],
            env=subprocess_env(DATABASE_URL=f"sqlite:///{legacy_path}"),
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = bandwise()
    assert refused.returncode != 0
    assert "rate_limits id=6: user_id=4: no users row with id 4 (orphan)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _digest(legacy_path) == before

    adopted = bandwise("--quarantine-orphans")
    assert adopted.returncode == 0, adopted.stderr
    with sqlite3.connect(legacy_path) as connection:
        rows = connection.execute(
            "SELECT source_table, source_id FROM import_quarantine ORDER BY id"
        ).fetchall()
    assert sorted(rows) == [
        ("assessments", 106),
        ("rate_limits", 6),
        ("submissions", 6),
        ("submissions", 7),
    ]
