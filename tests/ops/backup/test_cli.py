"""`bandwise backup …` end to end in subprocesses, on a SQLite deployment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from testkit.service import subprocess_env


def _bandwise(executable: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable, "backup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_cli_cycle(
    settings: Settings, seeded: AsyncEngine, bandwise_executable: str, tmp_path: Path
) -> None:
    env = subprocess_env(
        DATABASE_URL=settings.resolved_database_url,
        BACKUP_DIR=str(settings.backup_dir),
        LOG_LEVEL="WARNING",
    )

    created = _bandwise(bandwise_executable, env, "create", "--label", "nightly")
    assert created.returncode == 0, created.stderr
    listed = _bandwise(bandwise_executable, env, "list", "--json")
    [manifest] = json.loads(listed.stdout)
    assert manifest["label"] == "nightly" and manifest["verify_outcome"] is None

    refused = _bandwise(bandwise_executable, env, "restore", manifest["id"])
    assert refused.returncode == 5 and "never verified" in refused.stderr

    verified = _bandwise(bandwise_executable, env, "verify", "--all")
    assert verified.returncode == 0 and "passed" in verified.stdout, verified.stderr
    table = _bandwise(bandwise_executable, env, "list")
    assert manifest["id"] in table.stdout and "passed" in table.stdout and "nightly" in table.stdout

    unconfirmed = _bandwise(bandwise_executable, env, "restore", manifest["id"], "--into-current")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    target = tmp_path / "restored.db"
    restored = _bandwise(bandwise_executable, env, "restore", manifest["id"], "--into", str(target))
    assert restored.returncode == 0 and target.is_file(), restored.stderr

    plan = _bandwise(bandwise_executable, env, "prune", "--dry-run")
    assert plan.returncode == 0 and f"keep    {manifest['id']}" in plan.stdout
