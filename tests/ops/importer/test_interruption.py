"""kill -9 of the importer mid-COPY leaves the target as it was; a rerun then succeeds.

Also: the CLI's exit code and JSON report, and a source written to during the import.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bandwise.config import Settings
from bandwise.errors import DatabaseUnavailable
from bandwise.ops.importer import ImportOptions, import_sqlite
from bandwise.ops.importer.run import upgrade_target
from testkit.copy_gate import copy_gate, wait_at_gate
from testkit.importer import fetch, table_counts
from testkit.legacy import quirky_legacy_data, write_generated_legacy_file, write_legacy_file
from testkit.pg_cluster import PgCluster
from testkit.service import subprocess_env
from testkit.waiting import wait_until_async


async def _checksums(url: str) -> list[tuple[object, ...]]:
    rows = await fetch(
        url,
        (
            "SELECT 'users', count(*), "
            "md5(coalesce(string_agg(u::text, ',' ORDER BY id), '')) FROM users u "
            "UNION ALL SELECT 'submissions', count(*), "
            "md5(coalesce(string_agg(s::text, ',' ORDER BY id), '')) FROM submissions s"
        ),
    )
    return [tuple(row) for row in rows]


async def test_kill_9_mid_copy_leaves_target_unchanged_and_rerun_succeeds(
    tmp_path: Path, target_url: str, import_settings: Settings, bandwise_executable: str
) -> None:
    first = tmp_path / "first.db"
    write_legacy_file(first, quirky_legacy_data())
    await import_sqlite(first, target_url, import_settings, ImportOptions())
    before = await _checksums(target_url)
    big = tmp_path / "big.db"
    write_generated_legacy_file(big, 1500)
    command = [
        bandwise_executable,
        "db",
        "import-sqlite",
        str(big),
        "--target",
        target_url,
        "--replace",
        "--report",
        str(tmp_path / "report.json"),
    ]

    async with copy_gate(target_url) as gate:
        process = subprocess.Popen(
            command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await wait_at_gate(gate)  # the importer is inside its COPY, rows sent
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    # the server notices the dropped connection and rolls back; wait for the backend to go
    async def importer_gone() -> bool:
        rows = await fetch(
            target_url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%import%'",
        )
        return bool(rows[0][0] == 0)

    await wait_until_async(importer_gone, timeout=10, what="the killed importer's backend ends")
    assert await _checksums(target_url) == before

    rerun = subprocess.run(
        command, env=subprocess_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verified"] is True and report["committed"] is True
    assert report["snapshot"] == "held"  # read in place: a rollback-journal file
    counts = await table_counts(target_url)
    assert counts["submissions"] == report["tables"]["submissions"]["imported"] > 1000
    assert "checksum_match=true" in rerun.stdout


def test_cli_exit_code_and_report_when_bad_rows_abort(
    tmp_path: Path, target_url: str, bandwise_executable: str
) -> None:
    data = quirky_legacy_data()
    data.submissions[0]["word_count"] = "n/a"
    source = write_legacy_file(tmp_path / "bad.db", data)
    result = _import_cli(bandwise_executable, source, target_url, tmp_path / "r.json")
    assert result.returncode == 1
    assert "submissions id=10 word_count='n/a'" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verified"] is False
    # the assessment of submission 10 follows it
    assert report["bad_value_totals"] == {"unconvertible": 1, "parent_set_aside": 1}


async def test_source_written_during_the_import_gives_a_consistent_snapshot(
    tmp_path: Path, target_url: str, import_settings: Settings
) -> None:
    source = tmp_path / "live.db"
    write_generated_legacy_file(source, 300)
    stop = threading.Event()
    first_written = threading.Event()
    written = 0

    def legacy_bot() -> None:
        # Each essay and its assessment are written in one transaction, as the old bot did.
        nonlocal written
        connection = sqlite3.connect(source, timeout=30)
        next_id = connection.execute("SELECT max(id) FROM submissions").fetchone()[0] + 1
        while not stop.is_set():
            with connection:
                connection.execute(
                    "INSERT INTO submissions VALUES (?, 1, 'live essay', 'TASK_2', 2, "
                    "'2024-06-01 10:00:00.000000', 'COMPLETED')",
                    (next_id,),
                )
                connection.execute(
                    "INSERT INTO assessments VALUES (?, ?, 6, 6, 6, 6, 6, 'ok', '[]', "
                    "'2024-06-01 10:00:01.000000')",
                    (next_id, next_id),
                )
            next_id += 1
            written += 1
            first_written.set()
            time.sleep(0.001)
        connection.close()

    writer = threading.Thread(target=legacy_bot)
    writer.start()
    try:
        assert await asyncio.to_thread(first_written.wait, 30), "the legacy bot never wrote"
        report = await import_sqlite(source, target_url, import_settings, ImportOptions())
    finally:
        stop.set()
        writer.join()

    assert report.verified and written > 0
    counts = await table_counts(target_url)
    assert counts["submissions"] == counts["assessments"]  # no half-written pair
    assert report.tables["submissions"].imported == counts["submissions"]


async def test_server_restart_mid_copy_rolls_back_and_rerun_succeeds(
    tmp_path: Path, target_url: str, import_settings: Settings, pg_cluster: PgCluster
) -> None:
    source = tmp_path / "big.db"
    write_generated_legacy_file(source, 1500)
    await upgrade_target(target_url, import_settings)  # the gate's trigger needs the tables
    async with copy_gate(target_url) as gate:
        importing = asyncio.create_task(
            import_sqlite(source, target_url, import_settings, ImportOptions())
        )
        await wait_at_gate(gate)  # the import is inside its COPY and cannot commit
        pg_cluster.restart()
        with pytest.raises(
            DatabaseUnavailable, match="nothing was committed; run the import again"
        ):
            await importing
    assert set((await table_counts(target_url)).values()) == {0}

    report = await import_sqlite(source, target_url, import_settings, ImportOptions())
    assert report.verified and report.committed


def test_cli_copy_source_reads_a_private_copy(
    tmp_path: Path, target_url: str, bandwise_executable: str
) -> None:
    source = write_legacy_file(tmp_path / "legacy.db", quirky_legacy_data())
    result = _import_cli(
        bandwise_executable, source, target_url, tmp_path / "r.json", "--copy-source"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verified"] is True and report["snapshot"] == "copied"


def _import_cli(
    executable: str, source: Path, target_url: str, report: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run `bandwise db import-sqlite` on ``source`` with a JSON report and ``options``."""
    command = [executable, "db", "import-sqlite", str(source), "--target", target_url]
    return subprocess.run(
        [*command, "--report", str(report), *options],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
