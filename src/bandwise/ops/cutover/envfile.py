"""Switch DATABASE_URL in an env file, keeping the previous file as a timestamped copy.

An env file holds secrets: every file written here is owner-only (0600) from its first byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bandwise.ops.private_files import copy_private, write_private_text


def set_database_url(env_file: Path, url: str, now: datetime | None = None) -> Path:
    """Point ``DATABASE_URL`` in ``env_file`` at ``url``; return the copy of the old file."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    backup = env_file.with_name(f"{env_file.name}.bak-{stamp}")
    copy_private(env_file, backup)
    lines = env_file.read_text(encoding="utf-8").splitlines()
    replaced = False
    for index, line in enumerate(lines):
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if key == "DATABASE_URL" and not line.lstrip().startswith("#"):
            lines[index] = f"DATABASE_URL={url}"
            replaced = True
    if not replaced:
        lines.append(f"DATABASE_URL={url}")
    temporary = env_file.with_name(env_file.name + ".tmp")
    write_private_text(temporary, "\n".join(lines) + "\n")
    temporary.replace(env_file)
    return backup


def restore_env_file(env_file: Path, backup: Path) -> None:
    """Put the copy ``backup`` back in place of ``env_file``."""
    temporary = env_file.with_name(env_file.name + ".tmp")
    copy_private(backup, temporary)
    temporary.replace(env_file)
