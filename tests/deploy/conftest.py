"""Fixtures for the deployment files: a copy of the project's deploy tree and a stub `docker`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.deploy import DEPLOY_FILES, PROJECT_ROOT, STUB_DOCKER, StubDocker


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Copy the deployment files (compose, env templates, deploy/) into a scratch project."""
    root = tmp_path / "project"
    root.mkdir()
    for name in DEPLOY_FILES:
        shutil.copy2(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "deploy", root / "deploy")
    return root


@pytest.fixture
def stub_docker(tmp_path: Path) -> StubDocker:
    """Install the stub `docker` in a directory of its own."""
    bindir = tmp_path / "stub-bin"
    bindir.mkdir()
    script = bindir / "docker"
    script.write_text(STUB_DOCKER, encoding="utf-8")
    script.chmod(0o755)
    rules = tmp_path / "docker-rules.tsv"
    rules.write_text("", encoding="utf-8")
    return StubDocker(bindir, tmp_path / "docker-calls.log", rules)


@pytest.fixture
def filled_env(project: Path) -> Iterator[Path]:
    """Write the project's .env from .env.production with every placeholder replaced."""
    text = (project / ".env.production").read_text(encoding="utf-8")
    env = project / ".env"
    env.write_text(text.replace("=changeme", "=0123456789abcdef0123456789abcdef"), "utf-8")
    env.chmod(0o600)
    yield env
