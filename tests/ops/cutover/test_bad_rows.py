"""The cutover of a legacy file with unconvertible values: each `--on-bad-rows` mode as documented.

``quarantine`` cuts over and loses nothing (every set-aside row is in ``import_quarantine``,
the smoke test leaves exactly those out); ``abort`` fails at the import and changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bandwise.cli.main import app
from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.ops.cutover import CutoverOptions, run_cutover
from testkit.legacy import bad_legacy_data, write_legacy_file

# What bad_legacy_data sets aside: a bad value, an orphan, or a parent set aside.
SET_ASIDE = {
    ("users", 5),  # telegram_id 'n/a'
    ("submissions", 15),  # its user was set aside
    ("submissions", 16),  # orphan
    ("submissions", 17),  # 2025-02-30
    ("assessments", 1004),  # its submission was set aside
    ("assessments", 1005),  # band 6.555
    ("rate_limits", 103),  # its user was set aside
}
ONE_IN_ONE_OUT = ("users", "submissions", "assessments")  # rate limits may merge


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Path]:
    """Return (legacy file with unconvertible values, env file of its stopped service)."""
    (tmp_path / "data").mkdir()
    sqlite = write_legacy_file(tmp_path / "data" / "bandwise.db", bad_legacy_data())
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"DATABASE_URL=sqlite:///{sqlite}\n"
        f"MAINTENANCE_FLAG_PATH={tmp_path / 'data' / 'maintenance.flag'}\n"
        f"BACKUP_DIR={tmp_path / 'backups'}\n"
    )
    return sqlite, env_file


def _source_ids(sqlite: Path) -> dict[str, set[int]]:
    with sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True) as connection:
        return {
            name: {row[0] for row in connection.execute(f"SELECT id FROM {name}")}
            for name in (*ONE_IN_ONE_OUT, "rate_limits")
        }


async def _target(url: str) -> tuple[dict[str, set[int]], set[tuple[str, int]]]:
    engine = create_engine(load_settings(database_url=url), null_pool=True)
    try:
        if await migrate.current_revision(engine) is None:
            return {}, set()
        async with engine.connect() as connection:
            stored = {
                name: set((await connection.execute(text(f"SELECT id FROM {name}"))).scalars())
                for name in (*ONE_IN_ONE_OUT, "rate_limits")
            }
            quarantine = await connection.execute(
                text("SELECT source_table, source_id FROM import_quarantine")
            )
            return stored, {(str(table), int(source_id)) for table, source_id in quarantine}
    finally:
        await engine.dispose()


async def test_quarantine_cuts_over_and_loses_nothing(
    deployment: tuple[Path, Path], pg_database: str, bandwise_executable: str, tmp_path: Path
) -> None:
    sqlite, env_file = deployment
    before = _sha256(sqlite)
    report_path = tmp_path / "reports" / "cutover.json"
    finished = await asyncio.to_thread(
        subprocess.run,
        [
            bandwise_executable,
            "db",
            "cutover",
            "--sqlite",
            str(sqlite),
            "--postgres",
            pg_database,
            "--env-file",
            str(env_file),
            "--service-stopped",
            "--on-bad-rows",
            "quarantine",
            "--yes",
            "--report",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text())
    assert report["succeeded"] and report["failed_step"] is None
    assert report["quarantined_rows"] == {
        "users": 1,
        "submissions": 3,
        "rate_limits": 1,
        "assessments": 2,
    }
    smoke = next(step for step in report["steps"] if step["name"] == "smoke_test")
    assert "7 set-aside rows in import_quarantine" in smoke["detail"]
    assert "sampled histories identical" in smoke["detail"]
    assert f"DATABASE_URL={pg_database}" in env_file.read_text()
    assert _sha256(sqlite) == before  # the cutover never writes the SQLite file

    stored, quarantined = await _target(pg_database)
    assert quarantined == SET_ASIDE
    source = _source_ids(sqlite)
    for name in ONE_IN_ONE_OUT:  # every legacy row is in its table or in the quarantine
        aside = {source_id for table, source_id in SET_ASIDE if table == name}
        assert stored[name] | aside == source[name], name
        assert not stored[name] & aside, name
    assert 103 not in stored["rate_limits"]


async def test_abort_fails_at_the_import_and_changes_nothing(
    deployment: tuple[Path, Path], pg_database: str
) -> None:
    sqlite, env_file = deployment
    sqlite_before, env_before = _sha256(sqlite), _sha256(env_file)
    report = await run_cutover(
        load_settings(env_file=env_file),
        CutoverOptions(
            sqlite_path=sqlite,
            postgres_url=pg_database,
            env_file=env_file,
            service_stopped=True,
            on_bad_rows="abort",
        ),
    )
    assert not report.succeeded and report.failed_step == "import"
    failure = str(report.failure)
    # Documented: table, id, column and value of the bad rows, and the totals per kind.
    assert "users id=5 telegram_id='n/a'" in failure, failure
    assert "submissions id=17 submitted_at='2025-02-30 10:00:00'" in failure, failure
    assert "bad rows by kind: 7 rows" in failure, failure
    assert "PostgreSQL target emptied (schema removed)" in report.rollback
    assert await _target(pg_database) == ({}, set())
    assert _sha256(env_file) == env_before and _sha256(sqlite) == sqlite_before


def test_an_unknown_mode_is_refused_before_anything_happens(
    deployment: tuple[Path, Path],
) -> None:
    sqlite, env_file = deployment
    before = _sha256(sqlite)
    result = CliRunner().invoke(
        app,
        [
            "db",
            "cutover",
            "--sqlite",
            str(sqlite),
            "--postgres",
            "postgresql://bandwise@127.0.0.1:1/bandwise",
            "--env-file",
            str(env_file),
            "--service-stopped",
            "--on-bad-rows",
            "skip",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "--on-bad-rows" in result.output and "must be abort or quarantine" in result.output
    assert _sha256(sqlite) == before
