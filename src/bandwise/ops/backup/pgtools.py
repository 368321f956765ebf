"""Find Debian's pg_dump/pg_restore, check their version, and pass credentials safely.

The password goes to the tools through ``PGPASSWORD`` in their environment, never on the
command line (where ``ps`` would show it).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bandwise.errors import OperationFailed

VERSION_PATTERN = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgTools:
    """The client tools used for backups, and their version."""

    bindir: Path
    major: int
    version: str

    @property
    def pg_dump(self) -> str:
        """Return the path of pg_dump."""
        return str(self.bindir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        """Return the path of pg_restore."""
        return str(self.bindir / "pg_restore")


def _candidate_dirs(configured: Path | None) -> list[Path]:
    if configured is not None:
        return [configured]
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(path) for path in versioned]
    return candidates


def _version_of(binary: Path) -> tuple[int, str]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    match = VERSION_PATTERN.search(out.stdout)
    if out.returncode != 0 or match is None:
        raise OperationFailed(
            f"{binary} --version did not report a PostgreSQL version: {out.stdout.strip()}"
        )
    return int(match.group(1)), out.stdout.strip()


def find_pg_tools(configured: Path | None = None) -> PgTools:
    """Return the newest pg_dump/pg_restore pair (in ``configured`` when given)."""
    best: PgTools | None = None
    searched = _candidate_dirs(configured)
    for directory in searched:
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if not (os.access(dump, os.X_OK) and os.access(restore, os.X_OK)):
            continue
        major, version = _version_of(dump)
        if best is None or major > best.major:
            best = PgTools(bindir=directory, major=major, version=version)
    if best is None:
        where = (
            ", ".join(str(path) for path in searched)
            or "pg_config --bindir, /usr/lib/postgresql/*/bin"
        )
        raise OperationFailed(
            f"pg_dump/pg_restore not found (searched {where}); install the PostgreSQL client "
            "package matching the server (Debian: postgresql-client-<major>) "
            "or set BACKUP_PG_BINDIR"
        )
    return best


def check_compatible(tools: PgTools, server_major: int) -> None:
    """Refuse a pg_dump older than the server (it cannot dump a newer server reliably)."""
    if tools.major < server_major:
        raise OperationFailed(
            f"pg_dump {tools.major} in {tools.bindir} is older than the PostgreSQL {server_major} "
            f"server; install postgresql-client-{server_major} or set BACKUP_PG_BINDIR "
            "to its bin directory"
        )


def libpq_environment(url: str | URL, database: str | None = None) -> dict[str, str]:
    """Return the environment that points libpq tools at ``url`` (password in PGPASSWORD)."""
    parsed = make_url(url) if isinstance(url, str) else url
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["PGHOST"] = parsed.host or "localhost"
    env["PGPORT"] = str(parsed.port or 5432)
    if parsed.username:
        env["PGUSER"] = parsed.username
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    env["PGDATABASE"] = database or parsed.database or "postgres"
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = ssl
    env["PGAPPNAME"] = "bandwise-backup"
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def tool_failure(tool: str, returncode: int, stderr: str) -> str:
    """Return the first useful lines of a failed tool's error output."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    detail = "; ".join(lines[:3]) if lines else "no error output"
    return f"{tool} exited with status {returncode}: {detail}"
