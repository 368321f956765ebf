"""A throwaway PostgreSQL cluster on a free loopback port, owned by the caller.

Started with Debian's ``initdb``/``pg_ctl`` (found with ``pg_config --bindir``). PostgreSQL
refuses to run as root, so as root the cluster runs as the ``postgres`` system user through
``runuser``. Tests use it to stop, kill and restart the server under the application.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def find_bindir() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl``."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [
        Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    ]
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found (run `make postgres-binaries`)")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """One throwaway cluster: ``start()``, ``stop()``, ``kill()``, ``restart()``, ``destroy()``."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bandwise-pg-")))
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bindir = find_bindir()
        self.datadir = self.root / "data"
        self.socketdir = self.root / "sock"
        self.logfile = self.root / "server.log"
        self._run_as = os.geteuid() == 0
        self.host = "127.0.0.1"

    # --- process control -----------------------------------------------------------------------
    def _command(self, args: list[str]) -> list[str]:
        if self._run_as:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _chown(self, path: Path) -> None:
        if self._run_as:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        """Create the data directory (trust authentication on loopback and the socket)."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user must reach its data directory
        self._chown(self.root)
        self.socketdir.mkdir(exist_ok=True)
        self._chown(self.socketdir)
        subprocess.run(
            self._command(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    self.user,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socketdir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
            **self.settings,
        }
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            for key, value in options.items():
                conf.write(f"{key} = {value}\n")

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections."""
        if not self.datadir.exists():
            self.init()
        # Leftover pid file after a kill -9 is handled by postgres itself.
        subprocess.run(
            self._command(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.wait_accepting(timeout)

    def wait_accepting(self, timeout: float = 30.0) -> None:
        """Wait until the server accepts TCP connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"],
                check=False,
            )
            if out.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL on port {self.port} did not come up; see {self.logfile}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` disconnects clients, ``immediate`` is a crash-like stop)."""
        subprocess.run(
            self._command(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def pid(self) -> int | None:
        """Return the postmaster's pid, or None when it is not running."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """``kill -9`` the postmaster and its children (a crash)."""
        pid = self.pid()
        if pid is None:
            return
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for target in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        time.sleep(0.2)

    def restart(self) -> None:
        """Stop (fast) and start again."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server and remove every file of the cluster."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # --- URLs and SQL ----------------------------------------------------------------------------
    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        """Return a URL for ``database`` on this cluster."""
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def psql_command(self, database: str = "postgres") -> list[str]:
        """Return the argv of a psql connected to ``database`` that stops at the first error."""
        return [
            str(self.bindir / "psql"),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
        ]

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return its output (tuples only)."""
        out = subprocess.run(
            [
                *self.psql_command(database),
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (optionally from ``template``) and return its URL."""
        clause = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, disconnecting its sessions."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
