"""The real service as a child process (`bandwise serve`) on a free loopback port.

Load benchmarks and fault tests start it with settings passed as environment variables, talk
to it over HTTP, read its log, and stop it; nothing is imitated.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.pg_cluster import free_port


def bandwise_command() -> list[str]:
    """Return the command that runs the `bandwise` console script of this interpreter."""
    script = Path(sys.executable).parent / "bandwise"
    if script.exists():
        return [str(script)]
    found = shutil.which("bandwise")
    return [found] if found else [sys.executable, "-m", "bandwise"]


# The repository root: children started as ``python -m testkit.…`` import testkit from here.
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def module_command(module: str) -> list[str]:
    """Return the command running ``testkit.<module>`` (its environment needs ``PYTHONPATH``)."""
    return [sys.executable, "-m", f"testkit.{module}"]


def clean_environment(settings: dict[str, str]) -> dict[str, str]:
    """Return this environment without bandwise settings, testkit importable, plus ``settings``."""
    from bandwise.config import Settings

    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in Settings.model_fields and key != "BANDWISE_ENV_FILE"
    }
    env["PYTHONPATH"] = str(REPOSITORY_ROOT)
    env.update(settings)
    return env


def subprocess_env(**extra: str) -> dict[str, str]:
    """Return a clean environment for running bandwise in a subprocess, plus ``extra``."""
    return clean_environment(extra)


@dataclass
class ServiceProcess:
    """One `bandwise serve` child process: start, wait until ready, read its log, stop."""

    settings: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bandwise-svc-")) / "service.log"
    )
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """Return the service's base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Return the child's pid while it runs."""
        return self.process.pid if self.process is not None else None

    def start(self) -> ServiceProcess:
        """Launch the process (it waits for the database and migrates on its own)."""
        env = clean_environment(
            {
                "API_HOST": "127.0.0.1",
                "API_PORT": str(self.port),
                "LOG_LEVEL": "INFO",
                **self.settings,
            }
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*bandwise_command(), "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait until /health/ready answers 200; return the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    code = self.process.returncode
                    tail = self.log_text()[-3000:]
                    raise RuntimeError(f"bandwise serve exited with {code}:\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.base_url}/health/ready").status_code == 200:
                        return time.monotonic() - started
                time.sleep(0.05)
        raise TimeoutError(f"bandwise serve not ready in {timeout:g} s:\n{self.log_text()[-3000:]}")

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit on its own; return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process gracefully (SIGTERM), then forcefully."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_text(self) -> str:
        """Return everything the process logged so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def rss_megabytes(self) -> float | None:
        """Return the process's resident memory in MiB (Linux), or None."""
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
