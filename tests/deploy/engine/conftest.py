"""The session's own Docker daemon, the stand-in base images and the deployed stack.

The daemon keeps its data root between runs (BANDWISE_ENGINE_ROOT, default
~/.cache/bandwise/docker-engine): the stand-in images and the build cache are reused, so a
warm run builds nothing it has built before. Its socket, pidfile and exec root live in a
temporary directory; it is stopped by its pid at the end of the session, on failure and on
SIGTERM too. Containers, volumes and networks a killed run left behind are removed first.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from testkit.engine import DEFAULT_ENGINE_ROOT, Engine, Stack, clone_project


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM (a CI timeout, a `kill`) into an interrupt pytest tears down after."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """Start the session's dockerd and build (or reuse) the stand-in base images."""
    root = Path(os.environ.get("BANDWISE_ENGINE_ROOT", str(DEFAULT_ENGINE_ROOT)))
    daemon = Engine(data_root=root)
    # Without this, SIGTERM ends pytest at once and the daemon outlives it.
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        daemon.start()
        daemon.clear_leftovers()
        daemon.build_standin_images()
        yield daemon
        # Untagged images (earlier sources, the broken release) are build cache for the next
        # run; a day on, they are only disk.
        daemon.docker("image", "prune", "-f", "--filter", "until=24h", check=False)
    finally:
        daemon.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def deployed(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Run deploy/deploy.sh from scratch in a fresh copy of the project; yield its stack."""
    root = clone_project(tmp_path_factory.mktemp("deployed"))
    stack = Stack(engine, root, "bwdeployed")
    stack.down()
    stack.deploy_result = stack.script("deploy.sh", BANDWISE_MIN_FREE_MB="1")
    try:
        yield stack
    finally:
        stack.down()
