"""A Docker daemon of the tests' own and compose stacks of the project's files on it."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from testkit.deploy import PROJECT_ROOT
from testkit.pg_cluster import free_port

# What a deployment checkout holds that the stack uses: the production files, unchanged.
PROJECT_FILES = (
    "Dockerfile",
    "docker-compose.yml",
    ".dockerignore",
    ".env.production",
    ".env.example",
    "requirements.lock",
    "pyproject.toml",
    "README.md",
)
PROJECT_TREES = ("src", "deploy")
DEFAULT_ENGINE_ROOT = Path.home() / ".cache" / "bandwise" / "docker-engine"


class EngineError(RuntimeError):
    """The daemon or a command on it failed; the message carries its output."""


def run(
    command: list[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 600,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; with ``check`` raise EngineError naming it and its output on failure."""
    result = subprocess.run(
        command,
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise EngineError(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


@dataclass
class Engine:
    """dockerd with its own data root, socket and pidfile; stopped by its pid."""

    data_root: Path
    runtime_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bw-engine-")))
    process: subprocess.Popen[bytes] | None = None
    standin: dict[str, str] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        """Return the path of the daemon's API socket."""
        return self.runtime_dir / "docker.sock"

    @property
    def pidfile(self) -> Path:
        """Return the daemon's pidfile."""
        return self.runtime_dir / "dockerd.pid"

    @property
    def log_path(self) -> Path:
        """Return the daemon's log file."""
        return self.runtime_dir / "dockerd.log"

    def env(self, **extra: str) -> dict[str, str]:
        """Return an environment talking to this daemon, with the stand-in image variables."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("COMPOSE_", "DOCKER_"))
        }
        env["DOCKER_HOST"] = f"unix://{self.socket}"
        env.update(self.standin)
        env.update(extra)
        return env

    def start(self, timeout: float = 120) -> None:
        """Start dockerd and wait until it answers `docker info`."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise EngineError("dockerd is missing: run scripts/ensure-deploy-engine.sh")
        holder = daemon_using(self.data_root)
        if holder is not None:
            # Two daemons on one data root block on its databases; say so instead of hanging.
            raise EngineError(
                f"dockerd (pid {holder}) already uses {self.data_root}: a previous run was "
                f"killed before it could stop it; stop it with `kill {holder}`, or set "
                "BANDWISE_ENGINE_ROOT to another directory"
            )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    dockerd,
                    "--data-root",
                    str(self.data_root),
                    "--exec-root",
                    str(self.runtime_dir / "exec"),
                    "-H",
                    f"unix://{self.socket}",
                    "--exec-opt",
                    "native.cgroupdriver=cgroupfs",
                    "--pidfile",
                    str(self.pidfile),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while run(["docker", "info"], self.env(), check=False, timeout=30).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EngineError(f"dockerd did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.5)

    def clear_leftovers(self) -> None:
        """Remove every container, volume and network a killed earlier run left behind.

        The data root is the tests' own: only images and the build cache are worth keeping
        between runs; a stack left running would come back with the daemon (restart policies)
        and meet the next run's stack of the same name with stale volumes.
        """
        containers = self.docker("ps", "-aq").split()
        if containers:
            self.docker("rm", "-f", "-v", *containers)
        volumes = self.docker("volume", "ls", "-q").split()
        if volumes:
            self.docker("volume", "rm", "-f", *volumes)
        self.docker("network", "prune", "-f")

    def build_standin_images(self) -> None:
        """Build (or find cached) the stand-in base images and remember their variables."""
        script = str(PROJECT_ROOT / "scripts" / "build-standin-images.sh")
        run(["bash", script], self.env(), timeout=1800)
        printed = run(["bash", script, "--print"], self.env()).stdout
        self.standin = dict(line.split("=", 1) for line in printed.split())

    def stop(self, timeout: float = 90) -> None:
        """Stop the daemon by its pid (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        # dockerd leaves its default network namespace mounted under its exec root.
        prefix = f"{self.runtime_dir}/"
        with open("/proc/mounts", encoding="utf-8") as mounts:
            mounted = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
        for point in sorted(mounted, reverse=True):
            subprocess.run(["umount", point], check=False, capture_output=True, timeout=30)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def docker(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        """Run ``docker ARGS`` on this daemon and return its output."""
        return run(["docker", *args], self.env(), check=check, timeout=timeout).stdout


def daemon_using(data_root: Path) -> int | None:
    """Return the pid of a running dockerd whose data root is ``data_root``, if any."""
    wanted = str(data_root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not argv or Path(argv[0]).name != "dockerd":
            continue
        for flag, value in pairwise(argv):
            if flag == "--data-root" and str(Path(value).resolve()) == wanted:
                return int(entry.name)
    return None


def copy_project(destination: Path) -> Path:
    """Copy the files a deployment checkout uses, byte for byte, into ``destination``."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(PROJECT_ROOT / name, destination / name)
    for tree in PROJECT_TREES:
        shutil.copytree(
            PROJECT_ROOT / tree,
            destination / tree,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
        )
    return destination


def clone_project(workdir: Path) -> Path:
    """Commit a copy of the project to a repository and return a clone of it, as operators do.

    The clone has an upstream, so `git pull --ff-only` in deploy/fast-update.sh works as on a
    droplet.
    """
    source = copy_project(workdir / "origin")
    git = ["git", "-c", "user.name=bandwise tests", "-c", "user.email=tests@localhost"]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    run([*git, "init", "-q", "-b", "main"], env, cwd=source)
    run([*git, "add", "-A"], env, cwd=source)
    run([*git, "commit", "-q", "-m", "release"], env, cwd=source)
    clone = workdir / "bandwise"
    run(["git", "clone", "-q", str(source), str(clone)], env)
    return clone


@dataclass
class Stack:
    """One compose project (own name, volumes and loopback ports) of a project copy."""

    engine: Engine
    root: Path
    name: str
    api_port: int = field(default_factory=free_port)
    postgres_port: int = field(default_factory=free_port)
    settings: dict[str, str] = field(default_factory=dict)
    deploy_result: subprocess.CompletedProcess[str] | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """Return the environment for compose and the deploy scripts of this stack."""
        values = {
            "COMPOSE_PROJECT_NAME": self.name,
            "API_HOST_PORT": str(self.api_port),
            "POSTGRES_HOST_PORT": str(self.postgres_port),
            "BANDWISE_POLL_INTERVAL": "1",
        }
        return self.engine.env(**{**values, **self.settings, **extra})

    @property
    def image(self) -> str:
        """Return the bandwise image this stack builds (a tag of its own, unless deployed)."""
        values = self.env_file() if (self.root / ".env").exists() else {}
        return f"bandwise:{values.get('BANDWISE_TAG') or 'latest'}"

    def write_env(self, **overrides: str) -> Path:
        """Write .env (0600) from .env.production: every placeholder a fresh secret.

        The stack's image gets a tag of its own (BANDWISE_TAG): stacks built from different
        checkouts never retag each other's image.
        """
        overrides = {"BANDWISE_TAG": self.name, **overrides}
        lines = []
        for line in (self.root / ".env.production").read_text(encoding="utf-8").splitlines():
            if line.endswith("=changeme"):
                line = line.removesuffix("changeme") + secrets.token_hex(32)
            lines.append(line)
        lines = [line for line in lines if line.split("=", 1)[0] not in overrides]
        lines.extend(f"{key}={value}" for key, value in overrides.items())
        env = self.root / ".env"
        env.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env.chmod(0o600)
        return env

    def poll(self, timeout: float, interval: float = 2) -> Iterator[int]:
        """Yield attempt numbers until ``timeout`` seconds have passed (the caller breaks)."""
        deadline = time.monotonic() + timeout
        attempt = 0
        while time.monotonic() < deadline:
            yield attempt
            attempt += 1
            time.sleep(interval)

    def compose(
        self, *args: str, check: bool = True, timeout: float = 900, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run docker-compose in the project copy."""
        return run(
            ["docker-compose", *args],
            self.env(**extra),
            cwd=self.root,
            check=check,
            timeout=timeout,
        )

    def script(
        self, name: str, *args: str, timeout: float = 900, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``deploy/<name>`` of the project copy (never raises: callers check the code)."""
        return run(
            ["bash", str(self.root / "deploy" / name), *args],
            self.env(**extra),
            cwd=self.root,
            check=False,
            timeout=timeout,
        )

    def container(self, service: str) -> str:
        """Return the id of ``service``'s container (fails when there is none)."""
        found = self.compose("ps", "-q", service).stdout.strip()
        if not found:
            raise EngineError(f"{service} has no container in {self.name}")
        return found.splitlines()[0]

    def inspect(self, service: str) -> dict[str, Any]:
        """Return `docker inspect` of ``service``'s container."""
        parsed: list[dict[str, Any]] = json.loads(
            self.engine.docker("inspect", self.container(service))
        )
        return parsed[0]

    def health(self, service: str) -> str:
        """Return the health status of ``service`` (or its state without a healthcheck)."""
        state = self.inspect(service)["State"]
        return str(state["Health"]["Status"] if state.get("Health") else state["Status"])

    def wait_healthy(self, service: str, timeout: float = 300) -> None:
        """Wait until Docker reports ``service`` healthy; fail on unhealthy or at ``timeout``."""
        self.wait_container_healthy(self.container(service), timeout)

    def wait_container_healthy(self, container: str, timeout: float = 300) -> None:
        """Wait until Docker reports ``container`` healthy (or running, without a healthcheck)."""
        deadline = time.monotonic() + timeout
        status = ""
        template = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
        while time.monotonic() < deadline:
            status = self.engine.docker("inspect", "--format", template, container).strip()
            if status in ("healthy", "running"):
                return
            if status in ("unhealthy", "exited", "dead"):
                break
            time.sleep(1)
        logs = self.engine.docker("logs", "--tail", "40", container, check=False)
        raise EngineError(f"{container} is {status or 'not healthy'}; last logs:\n{logs}")

    def exec(self, service: str, *command: str, check: bool = True) -> str:
        """Run ``command`` in ``service``'s running container and return its output."""
        return self.compose("exec", "-T", service, *command, check=check).stdout

    def run_once(self, service: str, *command: str) -> str:
        """Run ``command`` in a one-off container of ``service``; return its output."""
        return self.compose("run", "-T", "--rm", "--no-deps", service, *command).stdout

    def env_file(self) -> dict[str, str]:
        """Return the uncommented assignments of the project's .env."""
        pairs = [
            line.split("=", 1)
            for line in (self.root / ".env").read_text(encoding="utf-8").splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        ]
        return {key.strip(): value for key, value in pairs}

    def psql(self, sql: str) -> str:
        """Run ``sql`` as the application role in the postgres service; return bare rows.

        Over the server's local socket (trusted inside the container, as in the official image).
        """
        values = self.env_file()
        return self.exec(
            "postgres",
            "psql",
            "-U",
            values["POSTGRES_USER"],
            "-d",
            values["POSTGRES_DB"],
            "-At",
            "-c",
            sql,
        ).strip()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Call the HTTP service through its published loopback port; return status and JSON."""
        token = self.env_file()["API_TOKEN"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http only)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def down(self) -> None:
        """Remove the stack's containers, networks and volumes."""
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)
