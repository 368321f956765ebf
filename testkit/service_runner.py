"""A tiny process manager for tests: start, stop and restart `bandwise serve` from an env file.

Used as the cutover's ``--restart-cmd`` the way systemd or docker would be in production:
``python -m testkit.service_runner restart STATE_DIR``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from testkit.service import clean_environment


def start(state_dir: Path) -> int:
    """Start the service in the background with ``state_dir/.env``; return its pid."""
    executable = Path(sys.executable).with_name("bandwise")
    log = open(state_dir / "service.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [str(executable), "serve"],
        cwd=state_dir,
        env=clean_environment({"BANDWISE_ENV_FILE": str(state_dir / ".env")}),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (state_dir / "service.pid").write_text(str(process.pid))
    return process.pid


def stop(state_dir: Path) -> None:
    """Stop the service started from ``state_dir`` (SIGTERM, then SIGKILL after 10 s)."""
    pidfile = state_dir / "service.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                finished = 0
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
            if finished:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    command, directory = sys.argv[1], Path(sys.argv[2])
    if command in ("stop", "restart"):
        stop(directory)
    if command in ("start", "restart"):
        start(directory)
