"""Small helpers for PostgreSQL-only backup tests."""

from __future__ import annotations

import subprocess

from sqlalchemy.engine import make_url

from bandwise.config import Settings
from bandwise.devtools.pg_cluster import find_bindir


def drop(settings: Settings, database: str) -> None:
    """Drop ``database`` on the settings' server (forcing sessions off)."""
    url = make_url(settings.resolved_database_url)
    subprocess.run(
        [
            str(find_bindir() / "psql"),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            "postgres",
            "-c",
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        ],
        check=True,
        capture_output=True,
    )
