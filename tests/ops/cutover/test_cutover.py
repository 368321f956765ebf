"""The cutover end to end: a live SQLite service moved onto PostgreSQL, failures rolled back."""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.ops.cutover import CutoverOptions, StepRecord, run_cutover
from testkit import service_runner
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY
from testkit.pg_cluster import PgCluster, free_port
from testkit.service import REPOSITORY_ROOT, module_command


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class LiveService:
    """A `bandwise serve` process on SQLite in its own directory, as an operator runs it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env_file = directory / ".env"
        self.sqlite = directory / "data" / "bandwise.db"
        self.env_file.write_text(
            f"DATABASE_URL=sqlite:///{self.sqlite}\nAPI_PORT={self.port}\n"
            f"MAINTENANCE_FLAG_PATH={directory / 'data' / 'maintenance.flag'}\n"
            f"BACKUP_DIR={directory / 'backups'}\nDAILY_SUBMISSION_LIMIT=50\n"
        )
        runner = shlex.join(module_command("service_runner"))
        self.restart_cmd = f"env PYTHONPATH={REPOSITORY_ROOT} {runner} restart {directory}"

    def start(self) -> None:
        service_runner.start(self.directory)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.url}/health/ready", timeout=2)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        log = (self.directory / "service.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"service not ready: {log}")

    def engine(self) -> str:
        body = httpx.get(f"{self.url}/health/ready", timeout=2).json()
        return str(body["checks"]["database"]["detail"])

    def submit(self, telegram_id: int, essay: str) -> int:
        response = httpx.post(
            f"{self.url}/api/v1/submissions",
            timeout=30,
            json={"telegram_id": telegram_id, "text": essay},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def history(self, telegram_id: int) -> dict[str, object]:
        return dict(httpx.get(f"{self.url}/api/v1/users/{telegram_id}/history", timeout=10).json())

    def stop(self) -> None:
        service_runner.stop(self.directory)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveService]:
    service = LiveService(tmp_path)
    service.start()
    for index, telegram_id in enumerate((5_000_000_001, 5_000_000_002, 42)):
        service.submit(telegram_id, TASK2_ESSAY)
        if index != 1:
            service.submit(telegram_id, TASK1_ESSAY)
    yield service
    service.stop()


def _options(live: LiveService, target: str, **extra: object) -> CutoverOptions:
    values: dict[str, object] = {
        "sqlite_path": live.sqlite,
        "postgres_url": target,
        "env_file": live.env_file,
        "service_url": live.url,
        "restart_cmd": live.restart_cmd,
        "freeze_timeout": 20,
        "restart_timeout": 60,
    }
    values.update(extra)
    return CutoverOptions(**values)  # type: ignore[arg-type]


async def _rows(url: str) -> int:
    engine = create_engine(load_settings(database_url=url), null_pool=True)
    try:
        if await migrate.current_revision(engine) is None:
            return 0
        async with engine.connect() as connection:
            return int(
                (
                    await connection.execute(
                        text(
                            "SELECT (SELECT count(*) FROM users) "
                            "+ (SELECT count(*) FROM submissions)"
                        )
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def test_cutover_moves_the_live_service_onto_postgresql(
    live: LiveService, pg_database: str
) -> None:
    before = {tid: live.history(tid) for tid in (5_000_000_001, 5_000_000_002, 42)}
    report = await run_cutover(load_settings(env_file=live.env_file), _options(live, pg_database))
    assert report.succeeded, (report.failure, report.steps)
    assert [step.name for step in report.steps] == [
        "preflight",
        "sqlite_backup",
        "write_freeze",
        "import",
        "switch_env",
        "smoke_test",
        "restart_and_unfreeze",
    ]
    assert all(step.status == "ok" for step in report.steps)
    assert report.freeze_seconds is not None and report.freeze_seconds > 0
    assert report.imported_rows["submissions"] == 5
    assert Path(str(report.backup_path)).exists()
    assert sha256(Path(str(report.backup_path))) == report.backup_sha256
    assert f"DATABASE_URL={pg_database}" in live.env_file.read_text()
    assert Path(str(report.env_backup_path)).read_text().startswith("DATABASE_URL=sqlite")

    live.wait_ready()
    assert live.engine() == "postgresql"
    for telegram_id, history in before.items():
        assert live.history(telegram_id) == history
    new_id = live.submit(5_000_000_001, TASK2_ESSAY)
    assert new_id > 5  # the sequence continues past the imported ids
    assert await _rows(pg_database) == 3 + 6


async def test_postgresql_down_fails_preflight_and_changes_nothing(live: LiveService) -> None:
    env_before, sqlite_before = sha256(live.env_file), live.history(42)
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/bandwise"
    report = await run_cutover(load_settings(env_file=live.env_file), _options(live, dead))
    assert not report.succeeded and report.failed_step == "preflight"
    assert "not reachable" in str(report.failure)
    assert sha256(live.env_file) == env_before
    assert live.engine() == "sqlite" and live.history(42) == sqlite_before
    live.submit(42, TASK2_ESSAY)  # still serving, not frozen


async def test_verification_mismatch_rolls_back(live: LiveService, pg_database: str) -> None:
    engine = create_engine(load_settings(database_url=pg_database), null_pool=True)
    await migrate.upgrade(engine)
    async with engine.begin() as connection:  # a server-side change the checksums must catch
        await connection.execute(
            text(
                "CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN NEW.word_count := NEW.word_count + 1; RETURN NEW; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER tamper BEFORE INSERT ON submissions "
                "FOR EACH ROW EXECUTE FUNCTION tamper()"
            )
        )
    await engine.dispose()
    env_before = sha256(live.env_file)

    report = await run_cutover(load_settings(env_file=live.env_file), _options(live, pg_database))
    assert not report.succeeded and report.failed_step == "import"
    assert sha256(live.env_file) == env_before
    assert any("maintenance off" in action for action in report.rollback)
    assert await _rows(pg_database) == 0
    assert live.engine() == "sqlite"
    live.submit(42, TASK2_ESSAY)


async def test_smoke_test_failure_restores_env_and_empties_target(
    live: LiveService, pg_database: str
) -> None:
    env_before = sha256(live.env_file)

    async def corrupt_after_switch(record: StepRecord) -> None:
        if record.name == "switch_env":
            engine = create_engine(load_settings(database_url=pg_database), null_pool=True)
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "UPDATE assessments SET overall_band_score = 1 WHERE id = "
                        "(SELECT min(id) FROM assessments)"
                    )
                )
            await engine.dispose()

    report = await run_cutover(
        load_settings(env_file=live.env_file),
        _options(live, pg_database, on_step=corrupt_after_switch, sample_users=10),
    )
    assert not report.succeeded and report.failed_step == "smoke_test"
    assert "differs" in str(report.failure)
    assert sha256(live.env_file) == env_before
    assert "env file restored" in report.rollback
    assert await _rows(pg_database) == 0
    assert live.engine() == "sqlite"
    live.submit(5_000_000_002, TASK1_ESSAY)


def test_killed_during_import_leaves_sqlite_serving(
    live: LiveService, pg_database: str, bandwise_executable: str
) -> None:
    env_before = sha256(live.env_file)
    process = subprocess.Popen(
        [
            bandwise_executable,
            "db",
            "cutover",
            "--sqlite",
            str(live.sqlite),
            "--postgres",
            pg_database,
            "--env-file",
            str(live.env_file),
            "--service-url",
            live.url,
            "--restart-cmd",
            live.restart_cmd,
            "--yes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BANDWISE_ENV_FILE": str(live.env_file)},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("write_freeze: ok"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert sha256(live.env_file) == env_before
    live.wait_ready(timeout=10)  # the dead cutover's flag no longer freezes the service
    live.submit(42, TASK2_ESSAY)


async def test_rehearsal_touches_nothing_live(
    live: LiveService, pg_database: str, pg_cluster: PgCluster
) -> None:
    live.stop()  # a quiet file so that its checksum means something
    sqlite_before, env_before = sha256(live.sqlite), sha256(live.env_file)
    databases_before = pg_cluster.psql(
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"
    )
    report = await run_cutover(
        load_settings(env_file=live.env_file), _options(live, pg_database, rehearse=True)
    )
    assert report.succeeded, report.failure
    assert report.expected_freeze_seconds is not None and report.expected_freeze_seconds > 0
    assert [phase.name for phase in report.freeze_estimate] == [
        "frozen_copy",
        "import",
        "smoke_test",
        "restart_and_unfreeze",
    ]
    assert report.import_rows_per_second is not None and report.import_rows_per_second > 0
    assert report.expected_freeze_seconds == sum(p.seconds for p in report.freeze_estimate)
    assert sha256(live.sqlite) == sqlite_before and sha256(live.env_file) == env_before
    assert (
        pg_cluster.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")
        == databases_before
    )
    assert await _rows(pg_database) == 0
    assert not (live.directory / "data" / "maintenance.flag").exists()
