"""The Dockerfile's HEALTHCHECK command, run for real against `bandwise serve` on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.deploy import PROJECT_ROOT
from testkit.pg_cluster import free_port
from testkit.service import subprocess_env


def healthcheck_command() -> list[str]:
    """Return the exec-form command of the Dockerfile's HEALTHCHECK, with this Python."""
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"(?ms)^HEALTHCHECK .*?CMD (\[.*?\])$", text)
    assert match, "the Dockerfile has no exec-form HEALTHCHECK"
    command: list[str] = json.loads(match.group(1))
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def probe(port: int) -> int:
    """Run the health probe against ``port``; return its exit code."""
    return subprocess.run(
        healthcheck_command(),
        env=subprocess_env(API_PORT=str(port)),
        capture_output=True,
        timeout=30,
        check=False,
    ).returncode


@pytest.fixture
def service(tmp_path: Path, bandwise_executable: str) -> Iterator[tuple[int, Path]]:
    """Run `bandwise serve` on a SQLite file and a free loopback port; yield port and flag."""
    port = free_port()
    flag = tmp_path / "maintenance.flag"
    process = subprocess.Popen(
        [bandwise_executable, "serve"],
        env=subprocess_env(
            SQLITE_PATH=str(tmp_path / "bandwise.db"),
            API_PORT=str(port),
            API_HOST="127.0.0.1",
            MAINTENANCE_FLAG_PATH=str(flag),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while probe(port) != 0:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "bandwise serve did not become ready in 60 s"
            time.sleep(0.5)
        yield port, flag
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_probe_passes_when_ready_and_fails_in_maintenance(service: tuple[int, Path]) -> None:
    port, flag = service
    assert probe(port) == 0
    flag.write_text("cutover\n", encoding="utf-8")
    assert probe(port) != 0, "503 (maintenance) must mark the container unhealthy"
    flag.unlink()
    assert probe(port) == 0


def test_probe_fails_when_nothing_listens() -> None:
    assert probe(free_port()) != 0
