"""A throwaway PgBouncer (transaction pooling) on a free loopback port in front of a cluster.

Uses Debian's ``pgbouncer`` binary. PgBouncer refuses to run as root, so as root it switches
to the ``postgres`` system user itself (``pgbouncer -u postgres``).
"""

from __future__ import annotations

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

from testkit.pg_cluster import PgCluster, free_port


def find_pgbouncer() -> str:
    """Return the path of the pgbouncer binary or raise with how to install it."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found is None:
        raise RuntimeError("pgbouncer is not installed (run `bash scripts/ensure-pgbouncer.sh`)")
    return found


@dataclass
class PgBouncer:
    """PgBouncer in ``pool_mode`` (default transaction) forwarding to ``cluster``."""

    cluster: PgCluster
    pool_mode: str = "transaction"
    default_pool_size: int = 10
    max_client_conn: int = 500
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bandwise-pgb-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        """Return the path of the generated pgbouncer.ini."""
        return self.root / "pgbouncer.ini"

    @property
    def log_path(self) -> Path:
        """Return the path of PgBouncer's log file."""
        return self.root / "pgbouncer.log"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """Return a URL reaching ``database`` through PgBouncer."""
        return f"{driver}://{self.cluster.user}@127.0.0.1:{self.port}/{database}"

    def write_config(self) -> None:
        """Write pgbouncer.ini: every database of the cluster, trust auth on loopback."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "userlist.txt").write_text(f'"{self.cluster.user}" ""\n', encoding="utf-8")
        self.config_path.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.cluster.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self.root}\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            f"pool_mode = {self.pool_mode}\n"
            f"default_pool_size = {self.default_pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            "server_reset_query = DISCARD ALL\n"
            "ignore_startup_parameters = extra_float_digits,statement_timeout\n"
            f"logfile = {self.log_path}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n"
            "admin_users = postgres\n",
            encoding="utf-8",
        )

    def start(self, timeout: float = 10.0) -> PgBouncer:
        """Start PgBouncer and wait until it accepts TCP connections."""
        binary = find_pgbouncer()
        self.write_config()
        command = [binary, str(self.config_path)]
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.root, *self.root.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # pgbouncer -u drops privileges itself, so the child we signal is pgbouncer.
            command = [binary, "-u", "postgres", str(self.config_path)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"pgbouncer exited with {self.process.returncode}: {error}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen on port {self.port}; see {self.log_path}")

    def stop(self) -> None:
        """Stop PgBouncer and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)
