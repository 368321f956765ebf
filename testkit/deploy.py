"""The deploy scripts under test: a stub `docker`, script runners, the compose client."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_FILES = ("docker-compose.yml", "Dockerfile", ".env.production", ".env.example")

# Answers the stub gives when no rule matches a call are empty with exit code 0.
STUB_DOCKER = r"""#!/usr/bin/env bash
# Stub docker for the tests: records every call, answers from a rules file
# (glob pattern <TAB> exit code <TAB> output, first match wins).
printf '%s\n' "$*" >> "$DOCKER_STUB_LOG"
while IFS=$'\t' read -r pattern code output; do
    [ -z "$pattern" ] && continue
    # shellcheck disable=SC2053
    if [[ "$*" == $pattern ]]; then
        [ -n "$output" ] && printf '%s\n' "$output"
        exit "$code"
    fi
done < "$DOCKER_STUB_RULES"
exit 0
"""


@dataclass
class StubDocker:
    """A `docker` on PATH that records its calls and answers from rules."""

    bindir: Path
    log: Path
    rules: Path

    def answer(self, pattern: str, output: str = "", code: int = 0) -> None:
        """Make calls matching the glob ``pattern`` print ``output`` and exit with ``code``."""
        assert "\t" not in pattern + output and "\n" not in output
        with self.rules.open("a", encoding="utf-8") as rules:
            rules.write(f"{pattern}\t{code}\t{output}\n")

    def calls(self) -> list[str]:
        """Return every recorded call (arguments joined by spaces), in order."""
        if not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8").splitlines()

    def index_of(self, fragment: str) -> int:
        """Return the position of the first call containing ``fragment`` (fails when absent)."""
        for position, call in enumerate(self.calls()):
            if fragment in call:
                return position
        raise AssertionError(f"no docker call contains {fragment!r}; calls: {self.calls()}")


def script_env(stub: StubDocker | None = None, **extra: str) -> dict[str, str]:
    """Return an environment for running the deploy scripts (stub docker first on PATH)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
    if stub is not None:
        env["PATH"] = f"{stub.bindir}{os.pathsep}{env['PATH']}"
        env["DOCKER_STUB_LOG"] = str(stub.log)
        env["DOCKER_STUB_RULES"] = str(stub.rules)
        # Compose through the stub too, never a real standalone docker-compose on PATH.
        env["BANDWISE_COMPOSE"] = "docker compose"
    env["BANDWISE_POLL_INTERVAL"] = "0"
    env.update(extra)
    return env


def run_script(
    project: Path, name: str, *args: str, stub: StubDocker | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/<name>`` of the scratch project and return the finished process."""
    return subprocess.run(
        ["bash", str(project / "deploy" / name), *args],
        env=script_env(stub, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_lib(project: Path, snippet: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Source deploy/lib.sh under ``set -euo pipefail`` and run ``snippet`` in bash."""
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . "{project}/deploy/lib.sh"; {snippet}'],
        env=script_env(None, **extra),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def compose_command() -> list[str]:
    """Return the compose client to use: the docker plugin, else Debian's docker-compose."""
    try:
        plugin = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if plugin.returncode == 0:
            return ["docker", "compose"]
    except FileNotFoundError:
        pass
    standalone = shutil.which("docker-compose")
    if standalone:
        return [standalone]
    pytest.fail(
        "no Docker Compose client: neither `docker compose` nor `docker-compose` works; "
        "run scripts/ensure-deploy-tools.sh (or `make test`, which calls it)"
    )
