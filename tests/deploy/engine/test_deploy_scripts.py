"""deploy/deploy.sh, verify.sh and fast-update.sh run as an operator runs them, on an engine."""

from __future__ import annotations

import json
import re
import stat

import pytest

from testkit.engine import Stack
from testkit.essays import TASK1_ESSAY

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

SECRETS = (
    "POSTGRES_SUPERUSER_PASSWORD",
    "POSTGRES_PASSWORD",
    "API_TOKEN",
    "ADMIN_TOKEN",
    "WEBHOOK_SECRET",
)


def image_id(stack: Stack, reference: str) -> str:
    """Return the id of the image ``reference``."""
    return stack.engine.docker("image", "inspect", "--format", "{{.Id}}", reference).strip()


def test_deploy_from_scratch_generates_secrets_and_ends_verified(deployed: Stack) -> None:
    result = deployed.deploy_result
    assert result is not None
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "all checks passed" in result.stdout
    assert "bandwise is running" in result.stdout
    env = deployed.root / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = deployed.env_file()
    for key in SECRETS:
        assert re.fullmatch(r"[0-9a-f]{64}", values[key]), key
    assert len({values[key] for key in SECRETS}) == len(SECRETS)


def test_deploy_again_keeps_every_secret_and_the_running_database(deployed: Stack) -> None:
    before = deployed.env_file()
    postgres = deployed.inspect("postgres")["Id"]
    result = deployed.script("deploy.sh", BANDWISE_MIN_FREE_MB="1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert all(f"kept existing {key}" in result.stdout for key in SECRETS)
    assert {key: deployed.env_file()[key] for key in SECRETS} == {
        key: before[key] for key in SECRETS
    }
    assert deployed.inspect("postgres")["Id"] == postgres


def test_the_docs_verification_commands_succeed(deployed: Stack) -> None:
    result = deployed.script("verify.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    schema" in result.stdout and "ok    database" in result.stdout
    assert "head" in deployed.exec("bot", "bandwise", "db", "status")
    deployed.exec("bot", "bandwise", "config", "check")


def test_verify_fails_while_the_bot_is_down(deployed: Stack) -> None:
    deployed.compose("stop", "bot")
    try:
        result = deployed.script("verify.sh")
        assert result.returncode == 1
        assert "FAIL  health" in result.stdout
    finally:
        deployed.compose("start", "bot")
    deployed.wait_healthy("bot")
    assert deployed.script("verify.sh").returncode == 0


def test_verify_fails_while_the_database_is_down(deployed: Stack) -> None:
    deployed.compose("stop", "postgres")
    try:
        result = deployed.script("verify.sh")
        assert result.returncode == 1
        assert "FAIL  database" in result.stdout
    finally:
        deployed.compose("start", "postgres")
    deployed.wait_healthy("postgres")
    deployed.wait_healthy("bot")
    assert deployed.script("verify.sh").returncode == 0, "the stack did not recover"


def test_fast_update_with_a_broken_image_rolls_back_and_the_old_one_keeps_serving(
    deployed: Stack,
) -> None:
    status, body = deployed.api(
        "POST", "/api/v1/submissions", {"telegram_id": 8001, "text": TASK1_ESSAY}
    )
    assert status == 201, body
    serving = image_id(deployed, "bandwise:latest")
    assert deployed.inspect("bot")["Image"] == serving
    server = deployed.root / "src" / "bandwise" / "api" / "server.py"
    original = server.read_text(encoding="utf-8")
    # The new image builds and migrates, but its HTTP service cannot start.
    server.write_text(original + '\nraise RuntimeError("deliberately broken release")\n', "utf-8")
    try:
        result = deployed.script("fast-update.sh", "--no-pull", "--timeout", "60")
    finally:
        server.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rolling back" in result.stderr and "bandwise backup restore" in result.stderr
    assert image_id(deployed, "bandwise:latest") == serving
    deployed.wait_healthy("bot")
    assert deployed.inspect("bot")["Image"] == serving
    status, body = deployed.api("GET", "/api/v1/users/8001/history")
    assert status == 200 and isinstance(body, dict) and len(body["entries"]) == 1, body
    listing = json.loads(deployed.exec("backup", "bandwise", "backup", "list", "--json"))
    entries = listing.get("backups", []) if isinstance(listing, dict) else listing
    assert any(str(entry.get("label", "")).startswith("pre-update-") for entry in entries)
    assert deployed.script("verify.sh").returncode == 0
