"""Every shell command of docs/deployment-digitalocean.md: run on the deployed stack, or named
here with the reason it cannot run on a test machine."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from testkit.deploy import PROJECT_ROOT
from testkit.engine import Stack

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

RUNBOOK = PROJECT_ROOT / "docs" / "deployment-digitalocean.md"
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)

# Commands that change the host itself or need what a test machine has not got.
HOST_ONLY = {
    "adduser --disabled-password bandwise && usermod -aG sudo bandwise": "creates a host user",
    "fallocate -l 2G /swapfile && chmod 600 /swapfile && mkswap /swapfile && swapon /swapfile": (
        "adds swap to the host"
    ),
    "echo '/swapfile none swap sw 0 0' >> /etc/fstab": "edits the host's fstab",
    "apt-get install -y docker-ce docker-ce-cli containerd.io docker-compose-plugin git": (
        "Docker's apt repository is unreachable; Debian's docker.io and docker-compose stand in"
    ),
    "usermod -aG docker bandwise": "changes a host user",
    "ufw default deny incoming && ufw allow OpenSSH && ufw allow 443/tcp && ufw allow 80/tcp "
    "&& ufw enable": "changes the host firewall",
    "su - bandwise": "switches the host user",
    "git clone <your bandwise repository> bandwise && cd bandwise": (
        "the stack is a git clone of a commit of this checkout (clone_project)"
    ),
    "$EDITOR .env": "interactive; the tests write the values instead",
    "30 4 * * * rclone sync /var/lib/docker/volumes/bandwise_backups/_data "
    "spaces:bandwise-backups": "a crontab line copying off the machine",
}
# Run elsewhere in this suite.
ELSEWHERE = {
    "deploy/deploy.sh": "the deployed fixture (from scratch) and test_deploy_again_…",
    "make test-deploy": "this suite",
    "dockerd --data-root ~/.cache/bandwise/docker-engine -H unix:///tmp/bw.sock --exec-opt "
    "native.cgroupdriver=cgroupfs --pidfile /tmp/bw.pid &": "the engine fixture (Engine.start)",
    "export DOCKER_HOST=unix:///tmp/bw.sock": "Engine.env",
    'set -a && eval "$(scripts/build-standin-images.sh --print)" && set +a': (
        "Engine.build_standin_images"
    ),
    "scripts/build-standin-images.sh && deploy/deploy.sh": "the engine and deployed fixtures",
    'kill "$(cat /tmp/bw.pid)"': "Engine.stop",
}


def runbook_commands() -> list[str]:
    """Return the commands of the runbook's sh blocks, comments and blank lines removed."""
    commands = []
    for block in SHELL_BLOCK.findall(RUNBOOK.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            # A trailing comment explains the command; a crontab line starts with digits.
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            commands.append(command)
    return commands


def as_run_here(stack: Stack, command: str) -> list[str]:
    """Return ``command`` as this machine runs it: Debian's docker-compose for the plugin.

    Compose v1 hands `exec` to `docker exec -t`, which needs a terminal; the v2 plugin
    detects there is none. `-T` says the same to v1.
    """
    command = command.replace("docker compose exec ", "docker-compose exec -T ")
    command = command.replace("docker compose ", "docker-compose ")
    return ["bash", "-c", f"set -euo pipefail; {command}"]


def run_here(stack: Stack, command: str) -> subprocess.CompletedProcess[str]:
    """Run a runbook command in the stack's checkout, as the operator would."""
    return subprocess.run(
        as_run_here(stack, command),
        cwd=stack.root,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_every_runbook_command_is_run_or_explained() -> None:
    commands = runbook_commands()
    assert "deploy/verify.sh" in commands and "deploy/fast-update.sh" in commands
    unexplained = [
        command
        for command in commands
        if command not in HOST_ONLY
        and command not in ELSEWHERE
        and command not in RUNNABLE
        and not command.startswith("docker compose exec backup bandwise backup restore <ID>")
    ]
    assert not unexplained, f"runbook commands neither run nor explained: {unexplained}"


RUNNABLE = (
    "docker compose version",
    "cp .env.production .env && chmod 600 .env",
    "deploy/verify.sh",
    "docker compose exec bot bandwise db status",
    "docker compose exec bot bandwise config check",
    "docker compose exec backup bandwise backup create",
    "deploy/fast-update.sh",
    "docker compose exec backup bandwise backup list",
    "docker compose exec backup bandwise backup verify --all",
)


def test_env_template_copy_is_private(tmp_path: Path) -> None:
    shutil.copy2(PROJECT_ROOT / ".env.production", tmp_path / ".env.production")
    subprocess.run(
        ["bash", "-c", "cp .env.production .env && chmod 600 .env"], cwd=tmp_path, check=True
    )
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


@pytest.mark.parametrize("command", [c for c in RUNNABLE if not c.startswith("cp ")])
def test_runbook_command_succeeds_on_the_deployed_stack(deployed: Stack, command: str) -> None:
    deployed.wait_healthy("bot")
    if command == "docker compose exec backup bandwise backup verify --all":
        # Something to verify: the runbook's backups exist after the first nightly run.
        deployed.exec("backup", "bandwise", "backup", "create", "--label", "runbook")
    result = run_here(deployed, command)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if command == "deploy/fast-update.sh":
        assert "update done" in result.stdout
        deployed.wait_healthy("bot")


def test_runbook_restore_drill_restores_into_a_new_database(deployed: Stack) -> None:
    deployed.wait_healthy("bot")
    created = deployed.exec("backup", "bandwise", "backup", "create", "--label", "drill")
    listing = json.loads(deployed.exec("backup", "bandwise", "backup", "list", "--json"))
    entries = listing.get("backups", []) if isinstance(listing, dict) else listing
    backup_id = next(str(entry["id"]) for entry in entries if entry.get("label") == "drill")
    assert backup_id in created
    deployed.exec("backup", "bandwise", "backup", "verify", backup_id)
    result = run_here(
        deployed,
        f"docker compose exec backup bandwise backup restore {backup_id} --into bandwise_drill",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tables = deployed.exec(
        "postgres",
        "psql",
        "-U",
        deployed.env_file()["POSTGRES_USER"],
        "-d",
        "bandwise_drill",
        "-At",
        "-c",
        "SELECT count(*) FROM alembic_version",
    )
    assert tables.strip() == "1"
