"""`bandwise db status [--json]` against real databases, and against none."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bandwise.db import migrate
from testkit.backup import write_manifest
from testkit.legacy import quirky_legacy_data, write_legacy_file
from testkit.pg_cluster import free_port
from testkit.service import subprocess_env


def _status(
    executable: str, url: str, backup_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(DATABASE_URL=url, BACKUP_DIR=str(backup_dir), DB_CONNECT_TIMEOUT="2")
    return subprocess.run(
        [executable, "db", "status", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_status_json_and_table(
    bandwise_executable: str, database_url: str, engine_name: str, tmp_path: Path
) -> None:
    write_manifest(tmp_path / "backups", 1, "failed")
    result = _status(bandwise_executable, database_url, tmp_path / "backups", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["engine"] == engine_name and status["up"] is True
    assert status["schema"] == {
        "revision": migrate.head_revision(),
        "head": migrate.head_revision(),
        "known": True,
        "at_head": True,
    }
    assert status["size_bytes"] > 0 and status["server_version"]
    assert {table["table"] for table in status["biggest_tables"]} & {"users", "submissions"}
    assert status["last_backup"]["verify_outcome"] == "failed"
    assert [alert["name"] for alert in status["firing_alerts"]] == ["BandwiseBackupVerifyFailed"]
    if engine_name == "postgresql":
        assert status["connections"]["max"] == 200 and status["connections"]["total"] >= 1

    table = _status(bandwise_executable, database_url, tmp_path / "backups")
    assert table.returncode == 0, table.stderr
    for label in ("engine", "schema", "pool", "size", "last backup", "firing alerts"):
        assert label in table.stdout
    assert "4.0 KiB" in table.stdout and "0.0 MiB" not in table.stdout  # the 4096-byte backup


def test_status_of_an_unreachable_database_exits_3(
    bandwise_executable: str, tmp_path: Path
) -> None:
    url = f"postgresql://bandwise:hunter2-secret@127.0.0.1:{free_port()}/bandwise"
    result = _status(bandwise_executable, url, tmp_path / "backups", "--json")
    assert result.returncode == 3
    status = json.loads(result.stdout)
    assert status["up"] is False and status["error"]
    assert status["schema"]["known"] is False and status["schema"]["at_head"] is None
    names = [alert["name"] for alert in status["firing_alerts"]]
    assert names == ["BandwiseDatabaseDown", "BandwiseBackupMissing"]
    down = status["firing_alerts"][0]["detail"]
    assert down.startswith("database postgresql+asyncpg://bandwise:***@127.0.0.1:")
    assert "hunter2-secret" not in result.stdout + result.stderr

    # Without --json a database that is down is three lines naming the cause, not a table.
    table = _status(bandwise_executable, url, tmp_path / "backups")
    assert table.returncode == 3 and table.stdout == ""
    assert table.stderr.splitlines()[0] == "error: cannot use the database: connection refused"
    assert len(table.stderr.splitlines()) == 3 and "hunter2-secret" not in table.stderr


def test_status_and_current_leave_a_legacy_file_byte_identical(
    bandwise_executable: str, tmp_path: Path
) -> None:
    """Looking at an operator's legacy file changes nothing (not even its journal mode)."""
    path = write_legacy_file(tmp_path / "legacy.db", quirky_legacy_data())
    before = path.read_bytes()
    result = _status(bandwise_executable, f"sqlite:///{path}", tmp_path / "backups", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"]["revision"] is None
    current = subprocess.run(
        [bandwise_executable, "db", "current"],
        capture_output=True,
        text=True,
        env=subprocess_env(DATABASE_URL=f"sqlite:///{path}"),
        timeout=60,
        check=False,
    )
    assert current.returncode == 0, current.stderr
    assert path.read_bytes() == before
    assert sorted(item.name for item in tmp_path.iterdir() if item.name.startswith("legacy")) == [
        "legacy.db"
    ]
