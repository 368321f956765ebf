"""The production compose file's default profile on a real engine: `up`, essays through the
published port, the containers' users, environment and file modes, a PostgreSQL restart under
load, `down` then `up`, and the backup service's scheduled verified backups with a restore."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from testkit.deploy import PROJECT_ROOT
from testkit.engine import Engine, Stack, copy_project
from testkit.essays import TASK2_ESSAY

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

APP_UID = "10001"


@pytest.fixture(scope="module")
def stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`docker-compose up -d` of the default profile with a filled-in .env; yield it."""
    root = copy_project(tmp_path_factory.mktemp("plain") / "bandwise")
    stack = Stack(engine, root, "bwplain")
    stack.write_env(BACKUP_SCHEDULE="* * * * *")
    stack.down()
    stack.compose("build")
    stack.compose("up", "-d")
    try:
        yield stack
    finally:
        stack.down()


def submit(stack: Stack, telegram_id: int) -> tuple[int, object]:
    """Submit the sample Task 2 essay for ``telegram_id`` through the published port."""
    return stack.api(
        "POST", "/api/v1/submissions", {"telegram_id": telegram_id, "text": TASK2_ESSAY}
    )


def stored_submission_ids(stack: Stack) -> set[int]:
    """Return the ids of every stored submission, read in the postgres service."""
    rows = stack.psql("SELECT id FROM submissions")
    return {int(row) for row in rows.split()}


def moment(raw: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp (nanoseconds cut to microseconds; naive = UTC)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", raw.replace("Z", "+00:00"))
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def taken_after(entry: dict[str, object], submission: object) -> bool:
    """Tell whether backup ``entry`` is verified and was started after ``submission``."""
    assert isinstance(submission, dict)
    return entry.get("verify_outcome") == "passed" and moment(str(entry["created_at"])) > moment(
        str(submission["submitted_at"])
    )


def test_services_turn_healthy_in_the_declared_order(stack: Stack) -> None:
    postgres = stack.inspect("postgres")
    passing = [entry for entry in postgres["State"]["Health"]["Log"] if entry["ExitCode"] == 0]
    assert passing, "postgres has no passing healthcheck"
    for service in ("bot", "backup"):
        started = moment(stack.inspect(service)["State"]["StartedAt"])
        # depends_on: service_healthy — compose started them only once postgres was healthy.
        assert started >= moment(passing[0]["Start"]), service
    stack.wait_healthy("bot")


def test_an_essay_submitted_through_the_published_port_is_scored_and_stored(stack: Stack) -> None:
    stack.wait_healthy("bot")
    status, body = submit(stack, 7001)
    assert status == 201, body
    assert isinstance(body, dict) and body["saved"] is True
    assert 0 <= float(body["assessment"]["overall_band"]) <= 9
    assert body["id"] in stored_submission_ids(stack)
    status, history = stack.api("GET", "/api/v1/users/7001/history")
    assert status == 200 and isinstance(history, dict), history
    assert [entry["submission_id"] for entry in history["entries"]] == [body["id"]]


def test_the_http_port_is_published_on_loopback_only(stack: Stack) -> None:
    bindings = stack.inspect("bot")["NetworkSettings"]["Ports"]["8080/tcp"]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}
    postgres = stack.inspect("postgres")["NetworkSettings"]["Ports"]["5432/tcp"]
    assert {binding["HostIp"] for binding in postgres} == {"127.0.0.1"}


@pytest.mark.parametrize("service", ["bot", "backup"])
def test_the_application_runs_as_its_own_unprivileged_user(stack: Stack, service: str) -> None:
    assert stack.exec(service, "id", "-u").strip() == APP_UID
    assert stack.exec(service, "id", "-g").strip() == APP_UID
    # PID 1 is the application itself, not a root shell in front of it.
    status = stack.exec(service, "cat", "/proc/1/status")
    assert f"Uid:\t{APP_UID}\t{APP_UID}\t{APP_UID}\t{APP_UID}" in status


def test_no_secret_reaches_a_container_beyond_what_compose_passes(stack: Stack) -> None:
    values = stack.env_file()
    superuser_password = values["POSTGRES_SUPERUSER_PASSWORD"]
    image_env = json.loads(stack.engine.docker("image", "inspect", stack.image))[0]
    for line in image_env["Config"]["Env"]:
        # The image carries no secret at all: every one arrives at run time.
        assert not any(secret in line for secret in values.values() if len(secret) >= 32), line
    for service in ("bot", "backup"):
        env = dict(
            line.split("=", 1) for line in stack.inspect(service)["Config"]["Env"] if "=" in line
        )
        # The superuser's password is for the postgres service only.
        assert env["POSTGRES_SUPERUSER_PASSWORD"] == ""
        assert superuser_password not in "\n".join(f"{k}={v}" for k, v in env.items())
        image_keys = {line.split("=", 1)[0] for line in image_env["Config"]["Env"]}
        compose_keys = {
            "DATABASE_URL",
            "SQLITE_PATH",
            "MAINTENANCE_FLAG_PATH",
            "BACKUP_DIR",
            "POSTGRES_SUPERUSER_PASSWORD",
            "API_HOST",
            "API_PORT",
            "API_TOKEN",
        }
        if service == "bot":
            compose_keys.add("DATABASE_DIRECT_URL")  # the alerter's lock goes around PgBouncer
        unexpected = set(env) - set(values) - image_keys - compose_keys
        assert not unexpected, f"{service} has variables nobody configured: {unexpected}"
    postgres_env = dict(
        line.split("=", 1) for line in stack.inspect("postgres")["Config"]["Env"] if "=" in line
    )
    assert "API_TOKEN" not in postgres_env and "ADMIN_TOKEN" not in postgres_env


def test_data_and_backup_directories_belong_to_the_application_user(stack: Stack) -> None:
    for path in ("/app/data", "/app/backups"):
        owner = stack.exec("backup", "stat", "-c", "%u %a", path).split()
        assert owner[0] == APP_UID, path
    pgdata = stack.exec("postgres", "stat", "-c", "%U %a", "/var/lib/postgresql/data").split()
    assert pgdata == ["postgres", "700"]


def test_the_backup_service_writes_a_verified_backup_and_it_restores(stack: Stack) -> None:
    stack.wait_healthy("bot")
    status, body = submit(stack, 7101)
    assert status == 201, body
    # BACKUP_SCHEDULE is every minute here: wait for the service's own verified backup.
    listing: list[dict[str, object]] = []
    for _ in stack.poll(timeout=240):
        raw = json.loads(stack.exec("backup", "bandwise", "backup", "list", "--json"))
        listing = raw.get("backups", []) if isinstance(raw, dict) else raw
        if any(taken_after(entry, body) for entry in listing):
            break
    assert any(taken_after(entry, body) for entry in listing), listing
    # Hold the schedule (its retention prunes older backups each minute), then drill.
    stack.compose("stop", "backup")
    raw = json.loads(stack.run_once("backup", "bandwise", "backup", "list", "--json"))
    listing = raw.get("backups", []) if isinstance(raw, dict) else raw
    backup = next(entry for entry in listing if taken_after(entry, body))
    files = stack.run_once(
        "backup", "find", "/app/backups", "-type", "f", "-exec", "stat", "-c", "%u %a %n", "{}", "+"
    ).splitlines()
    assert any(line.endswith(".dump") for line in files), f"no dump in the volume: {files}"
    for line in files:
        uid, mode, _name = line.split(" ", 2)
        assert uid == APP_UID and int(mode, 8) & 0o077 == 0, line
    # The bot mounts the same volume read-only.
    denied = stack.compose("exec", "-T", "bot", "touch", "/app/backups/x", check=False)
    assert denied.returncode != 0
    # The drill from the docs: restore into a new database, compare the rows.
    stack.run_once("backup", "bandwise", "backup", "verify", "--all")
    restored = stack.run_once(
        "backup", "bandwise", "backup", "restore", str(backup["id"]), "--into", "bandwise_drill"
    )
    assert "restored into" in restored
    stack.compose("start", "backup")
    drill = stack.exec(
        "postgres",
        "psql",
        "-U",
        stack.env_file()["POSTGRES_USER"],
        "-d",
        "bandwise_drill",
        "-At",
        "-c",
        "SELECT id FROM submissions",
    )
    assert body["id"] in {int(row) for row in drill.split()}  # type: ignore[index]


def test_postgres_restart_under_a_trickle_of_submissions_loses_nothing_acknowledged(
    stack: Stack,
) -> None:
    stack.wait_healthy("bot")
    bot_started = stack.inspect("bot")["State"]["StartedAt"]
    acknowledged: list[int] = []
    refused: list[int] = []
    stop = threading.Event()
    progress = threading.Condition()

    def trickle() -> None:
        telegram_id = 20_000
        while not stop.is_set():
            telegram_id += 1
            try:
                status, body = submit(stack, telegram_id)
            except OSError:
                status, body = 0, None
            with progress:
                if status == 201 and isinstance(body, dict):
                    acknowledged.append(int(body["id"]))
                else:
                    refused.append(status)
                progress.notify_all()

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= 3, timeout=120)
        stack.compose("restart", "postgres")
        stack.wait_healthy("postgres")
        before = len(acknowledged)
        with progress:
            # The bot recovers by itself: new submissions are acknowledged again.
            assert progress.wait_for(lambda: len(acknowledged) >= before + 5, timeout=180), (
                f"no recovery: refused {refused[-10:]}"
            )
    finally:
        stop.set()
        worker.join(timeout=60)
    assert stack.inspect("bot")["State"]["StartedAt"] == bot_started, "the bot was restarted"
    missing = set(acknowledged) - stored_submission_ids(stack)
    assert not missing, f"acknowledged but lost: {sorted(missing)}"


def test_down_then_up_keeps_every_row(stack: Stack) -> None:
    stack.wait_healthy("bot")
    before = stored_submission_ids(stack)
    assert before
    stack.compose("down", "--timeout", "30")
    assert not stack.compose("ps", "-q").stdout.strip()
    stack.compose("up", "-d")
    stack.wait_healthy("bot")
    assert stored_submission_ids(stack) == before
    status, body = submit(stack, 7201)
    assert status == 201, body


def test_the_stack_ran_the_repository_s_own_files(stack: Stack) -> None:
    for name in ("Dockerfile", "docker-compose.yml", "deploy/deploy.sh", "deploy/lib.sh"):
        assert (stack.root / name).read_bytes() == (PROJECT_ROOT / name).read_bytes(), name
