"""deploy.sh, fast-update.sh and verify.sh against a stub `docker` that records its calls."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from testkit.deploy import StubDocker, run_lib, run_script

HEALTHY_RULES = (
    ("compose version", ""),
    ("compose ps -q *", "c0ffee"),
    ("inspect --format *", "healthy"),
)
BACKUP_LISTING = '[{"id": "20260101", "created_at": "%s"}]'


def healthy_docker(stub: StubDocker) -> StubDocker:
    """Answer like a working Docker host whose containers are healthy."""
    for pattern, output in HEALTHY_RULES:
        stub.answer(pattern, output)
    return stub


def env_values(env: Path) -> dict[str, str]:
    """Return the uncommented assignments of an env file."""
    pairs = [
        line.split("=", 1)
        for line in env.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return dict(pairs)


# --- deploy.sh -------------------------------------------------------------------------------


def test_first_deploy_creates_env_with_secrets_and_starts_in_order(
    project: Path, stub_docker: StubDocker
) -> None:
    healthy_docker(stub_docker)
    result = run_script(
        project, "deploy.sh", "--skip-verify", stub=stub_docker, BANDWISE_MIN_FREE_MB="1"
    )
    assert result.returncode == 0, result.stderr
    env = project / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = env_values(env)
    for key in (
        "POSTGRES_SUPERUSER_PASSWORD",
        "POSTGRES_PASSWORD",
        "API_TOKEN",
        "ADMIN_TOKEN",
        "WEBHOOK_SECRET",
    ):
        assert re.fullmatch(r"[0-9a-f]{64}", values[key]), key
    assert len({values["POSTGRES_PASSWORD"], values["POSTGRES_SUPERUSER_PASSWORD"]}) == 2
    assert "changeme" not in "".join(values.values())
    assert "BOT_TOKEN is not set" in result.stderr
    order = [
        stub_docker.index_of(step)
        for step in (
            "compose config --quiet",
            "compose build",
            "bandwise config check",
            "compose up -d postgres",
            "compose up -d",
        )
    ]
    assert order == sorted(order)
    assert stub_docker.index_of("compose up -d postgres") < stub_docker.index_of("inspect")
    for secret in values.values():
        if len(secret) == 64:
            assert secret not in result.stdout + result.stderr, "secrets are never printed"


def test_deploy_again_keeps_every_secret(project: Path, stub_docker: StubDocker) -> None:
    healthy_docker(stub_docker)
    first = run_script(
        project, "deploy.sh", "--skip-verify", stub=stub_docker, BANDWISE_MIN_FREE_MB="1"
    )
    assert first.returncode == 0, first.stderr
    env = project / ".env"
    env.write_text(env.read_text(encoding="utf-8") + "BOT_TOKEN=123:abc\n", encoding="utf-8")
    before = env.read_text(encoding="utf-8")
    second = run_script(
        project, "deploy.sh", "--skip-verify", stub=stub_docker, BANDWISE_MIN_FREE_MB="1"
    )
    assert second.returncode == 0, second.stderr
    assert env.read_text(encoding="utf-8") == before
    assert "kept existing API_TOKEN" in second.stdout
    assert "BOT_TOKEN is not set" not in second.stderr


def test_deploy_refuses_a_password_that_breaks_the_url(
    project: Path, stub_docker: StubDocker
) -> None:
    healthy_docker(stub_docker)
    (project / ".env").write_text(
        (project / ".env.production")
        .read_text(encoding="utf-8")
        .replace("POSTGRES_PASSWORD=changeme", "POSTGRES_PASSWORD=p@ss/word"),
        encoding="utf-8",
    )
    result = run_script(project, "deploy.sh", stub=stub_docker, BANDWISE_MIN_FREE_MB="1")
    assert result.returncode == 1
    assert "POSTGRES_PASSWORD may contain only" in result.stderr
    assert not any("compose build" in call for call in stub_docker.calls())


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("compose version", "Docker Compose is missing"),
        ("info", "cannot talk to the Docker daemon"),
    ],
)
def test_deploy_checks_prerequisites_first(
    project: Path, stub_docker: StubDocker, pattern: str, message: str
) -> None:
    stub_docker.answer(pattern, "", code=1)
    result = run_script(project, "deploy.sh", stub=stub_docker, BANDWISE_MIN_FREE_MB="1")
    assert result.returncode == 1 and message in result.stderr
    assert not (project / ".env").exists()


def test_deploy_refuses_a_full_disk(project: Path, stub_docker: StubDocker) -> None:
    healthy_docker(stub_docker)
    result = run_script(project, "deploy.sh", stub=stub_docker, BANDWISE_MIN_FREE_MB=str(10**12))
    assert result.returncode == 1 and "MB are needed" in result.stderr


def test_deploy_stops_when_postgres_never_gets_healthy(
    project: Path, stub_docker: StubDocker
) -> None:
    stub_docker.answer("compose ps -q *", "c0ffee")
    stub_docker.answer("inspect --format *", "unhealthy")
    result = run_script(project, "deploy.sh", stub=stub_docker, BANDWISE_MIN_FREE_MB="1")
    assert result.returncode == 1
    assert "PostgreSQL did not become healthy" in result.stderr
    assert not any(call == "compose up -d" for call in stub_docker.calls())


# --- verify.sh -------------------------------------------------------------------------------


def verified_docker(
    stub: StubDocker,
    project: Path,
    *,
    schema: str = "0003 (head)",
    backup_created: str | None = None,
) -> StubDocker:
    """Answer like a healthy deployment with a recent backup."""
    created = backup_created or run_lib(project, "date -u +%Y-%m-%dT%H:%M:%SZ").stdout.strip()
    stub.answer("compose exec -T bot bandwise db current", schema)
    stub.answer("compose exec -T backup bandwise backup list --json", BACKUP_LISTING % created)
    stub.answer("compose exec -T bot python -c *", '{"status": "ok"}')
    return healthy_docker(stub)


@pytest.mark.usefixtures("filled_env")
def test_verify_passes_on_a_healthy_deployment(project: Path, stub_docker: StubDocker) -> None:
    verified_docker(stub_docker, project)
    result = run_script(project, "verify.sh", stub=stub_docker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    for check in ("health", "database", "schema", "backup"):
        assert re.search(rf"(?m)^ok +{check} ", result.stdout), check
    assert re.search(r"(?m)^warn +bot +no bot in the service", result.stdout)
    assert any(
        "pg_isready -h 127.0.0.1 -U bandwise -d bandwise" in call for call in stub_docker.calls()
    )


@pytest.mark.usefixtures("filled_env")
@pytest.mark.parametrize(
    ("rule", "failed_check"),
    [
        (("compose exec -T bot python -c *", "503 maintenance", 1), "health"),
        (("compose exec -T postgres pg_isready *", "", 2), "database"),
        (("compose exec -T bot bandwise db wait *", "", 3), "database"),
        (("compose exec -T bot bandwise db current", "0002 (code expects 0003)", 0), "schema"),
        (("compose exec -T backup bandwise backup list --json", "", 1), "backup"),
    ],
)
def test_verify_fails_when_a_check_fails(
    project: Path, stub_docker: StubDocker, rule: tuple[str, str, int], failed_check: str
) -> None:
    pattern, output, code = rule
    stub_docker.answer(pattern, output, code)  # first match wins over the healthy answers
    verified_docker(stub_docker, project)
    result = run_script(project, "verify.sh", stub=stub_docker)
    assert result.returncode == 1
    assert re.search(rf"(?m)^FAIL +{failed_check} ", result.stdout), result.stdout
    assert "1 check(s) failed" in result.stdout


@pytest.mark.usefixtures("filled_env")
def test_verify_judges_backup_age(project: Path, stub_docker: StubDocker) -> None:
    verified_docker(stub_docker, project, backup_created="2020-01-01T03:00:00Z")
    result = run_script(project, "verify.sh", stub=stub_docker)
    assert result.returncode == 1
    assert re.search(r"(?m)^FAIL +backup +newest backup is older than 26 h", result.stdout)
    relaxed = run_script(
        project, "verify.sh", "--max-backup-age-hours", "1000000", stub=stub_docker
    )
    assert re.search(r"(?m)^ok +backup ", relaxed.stdout)


@pytest.mark.usefixtures("filled_env")
@pytest.mark.parametrize(
    ("ready", "code", "verdict"),
    [
        (
            '{"status": "ok", "checks": {"bot": {"ok": true, "detail": "polling, up"}}}',
            0,
            r"(?m)^ok +bot +polling, up$",
        ),
        (
            '{"status": "unavailable", "checks": {"bot": {"ok": false, '
            '"detail": "webhook, down: TelegramNetworkError, webhook not registered"}}}',
            1,
            r"(?m)^FAIL +bot +webhook, down: TelegramNetworkError, webhook not registered",
        ),
    ],
)
def test_verify_reads_the_bot_state_from_readiness(
    project: Path, stub_docker: StubDocker, ready: str, code: int, verdict: str
) -> None:
    """The bot's real state (not the env file) decides: a bot that cannot reach Telegram fails."""
    stub_docker.answer("compose exec -T bot python -c *", ready, code)
    verified_docker(stub_docker, project)
    result = run_script(project, "verify.sh", stub=stub_docker)
    assert re.search(verdict, result.stdout), result.stdout


@pytest.mark.usefixtures("filled_env")
def test_verify_without_backups_warns_unless_required(
    project: Path, stub_docker: StubDocker
) -> None:
    stub_docker.answer("compose exec -T backup bandwise backup list --json", "[]")
    verified_docker(stub_docker, project)
    assert run_script(project, "verify.sh", stub=stub_docker).returncode == 0
    strict = run_script(project, "verify.sh", "--require-backup", stub=stub_docker)
    assert strict.returncode == 1 and "no backup yet" in strict.stdout


# --- fast-update.sh --------------------------------------------------------------------------


def updating_docker(stub: StubDocker, *, schema_after: str = "0004 (head)") -> StubDocker:
    """Answer like a running deployment at 0003 whose new image migrates to ``schema_after``."""
    stub.answer("compose exec -T bot bandwise db current", "0003 (head)")
    stub.answer("compose run -T --rm --no-deps bot bandwise db current", schema_after)
    stub.answer("compose exec -T backup bandwise backup create *", "created backup 20260101")
    return healthy_docker(stub)


@pytest.mark.usefixtures("filled_env")
def test_update_backs_up_before_migrating_and_restarts_only_the_bot(
    project: Path, stub_docker: StubDocker
) -> None:
    updating_docker(stub_docker)
    result = run_script(project, "fast-update.sh", "--no-pull", stub=stub_docker)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [
        "tag bandwise:latest bandwise:previous",
        "compose build bot",
        "bandwise backup create --label pre-update-",
        "bandwise db upgrade",
        "compose up -d --no-deps bot",
        "inspect --format",
        "compose up -d --no-deps backup",
    ]
    positions = [stub_docker.index_of(step) for step in steps]
    assert positions == sorted(positions), stub_docker.calls()
    calls = stub_docker.calls()
    assert not any("postgres" in call and ("up" in call or "restart" in call) for call in calls)
    assert not any("downgrade" in call for call in calls)


@pytest.mark.usefixtures("filled_env")
def test_failed_health_after_a_migration_reverts_schema_and_image(
    project: Path, stub_docker: StubDocker
) -> None:
    # The bot never turns healthy: the rollback still runs every step and says so.
    stub_docker.answer("inspect --format *", "unhealthy")
    updating_docker(stub_docker)
    result = run_script(project, "fast-update.sh", "--no-pull", stub=stub_docker)
    assert result.returncode == 1
    assert "update failed at stage 'health'" in result.stderr
    steps = [
        "bandwise db downgrade 0003",
        "tag bandwise:previous bandwise:latest",
        "compose up -d --no-deps --force-recreate bot",
    ]
    positions = [stub_docker.index_of(step) for step in steps]
    assert positions == sorted(positions)
    assert "bandwise backup restore" in result.stderr and "pre-update-" in result.stderr


@pytest.mark.usefixtures("filled_env")
def test_failed_migration_without_schema_change_only_retags(
    project: Path, stub_docker: StubDocker
) -> None:
    stub_docker.answer("compose run -T --rm --no-deps bot bandwise db upgrade", "boom", code=4)
    updating_docker(stub_docker, schema_after="0003 (code expects 0004)")
    result = run_script(project, "fast-update.sh", "--no-pull", stub=stub_docker)
    assert result.returncode == 1
    assert "rolling back: retag restore-hint" in result.stderr
    calls = stub_docker.calls()
    assert any(call == "tag bandwise:previous bandwise:latest" for call in calls)
    assert not any("downgrade" in call or "--force-recreate" in call for call in calls)
    assert not any(call.startswith("compose up") for call in calls), "the old bot keeps running"


@pytest.mark.usefixtures("filled_env")
def test_failed_backup_stops_before_touching_the_schema(
    project: Path, stub_docker: StubDocker
) -> None:
    stub_docker.answer("compose exec -T backup bandwise backup create *", "disk full", code=1)
    updating_docker(stub_docker)
    result = run_script(project, "fast-update.sh", "--no-pull", stub=stub_docker)
    assert result.returncode == 1 and "stage 'backup'" in result.stderr
    assert not any("db upgrade" in call for call in stub_docker.calls())


def test_update_needs_a_first_install(project: Path, stub_docker: StubDocker) -> None:
    result = run_script(project, "fast-update.sh", "--no-pull", stub=stub_docker)
    assert result.returncode == 1 and "run deploy/deploy.sh" in result.stderr
    assert stub_docker.calls() == []


def test_deploy_ends_with_verify(project: Path, stub_docker: StubDocker) -> None:
    stub_docker.answer("compose exec -T bot bandwise db current", "0003 (head)")
    stub_docker.answer("compose exec -T backup bandwise backup list --json", "[]")
    healthy_docker(stub_docker)
    result = run_script(project, "deploy.sh", stub=stub_docker, BANDWISE_MIN_FREE_MB="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert stub_docker.index_of("compose up -d postgres") < stub_docker.index_of("db current")


# --- migrate-to-postgres.sh ---------------------------------------------------------------


@pytest.mark.usefixtures("filled_env")
def test_migration_stops_the_bot_cuts_over_then_starts_it_on_postgresql(
    project: Path, stub_docker: StubDocker
) -> None:
    verified_docker(stub_docker, project)
    result = run_script(project, "migrate-to-postgres.sh", stub=stub_docker)
    assert result.returncode == 0, result.stdout + result.stderr
    cutover = stub_docker.index_of("bandwise db cutover")
    call = stub_docker.calls()[cutover]
    assert "--service-stopped --yes" in call and "--sqlite /app/data/bandwise.db" in call
    assert "postgresql://bandwise:0123456789abcdef0123456789abcdef@postgres:5432/bandwise" in call
    assert "run -T --rm --no-deps backup" in call
    assert (
        stub_docker.index_of("compose up -d postgres")
        < stub_docker.index_of("compose stop bot")
        < cutover
        < stub_docker.index_of("compose up -d --no-deps bot")
    )
    assert "now runs on PostgreSQL" in result.stdout


@pytest.mark.usefixtures("filled_env")
def test_failed_cutover_leaves_the_bot_stopped_and_says_so(
    project: Path, stub_docker: StubDocker
) -> None:
    verified_docker(stub_docker, project)
    stub_docker.answer("compose run * bandwise db cutover *", "import: failed", code=1)
    result = run_script(project, "migrate-to-postgres.sh", stub=stub_docker)
    assert result.returncode == 1
    assert "rolled itself back" in result.stderr
    assert not any("up -d --no-deps bot" in call for call in stub_docker.calls())


@pytest.mark.usefixtures("filled_env")
def test_rehearsal_and_host_file_touch_nothing_live(
    project: Path, stub_docker: StubDocker, tmp_path: Path
) -> None:
    verified_docker(stub_docker, project)
    legacy = tmp_path / "legacy.db"
    legacy.write_bytes(b"SQLite format 3\x00")
    result = run_script(
        project, "migrate-to-postgres.sh", "--rehearse", "--sqlite", str(legacy), stub=stub_docker
    )
    assert result.returncode == 0, result.stdout + result.stderr
    call = stub_docker.calls()[stub_docker.index_of("bandwise db cutover")]
    assert f"-v {legacy}:/import/bandwise.db:ro" in call and "--rehearse" in call
    assert "--sqlite /import/bandwise.db" in call
    assert not any("stop bot" in call for call in stub_docker.calls())
    missing = run_script(
        project, "migrate-to-postgres.sh", "--sqlite", "/nope.db", stub=stub_docker
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
