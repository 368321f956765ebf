"""Switch DATABASE_URL in an env file, keeping the previous file as a timestamped copy."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path


def set_database_url(env_file: Path, url: str, now: datetime | None = None) -> Path:
    """Point ``DATABASE_URL`` in ``env_file`` at ``url``; return the copy of the old file."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    backup = env_file.with_name(f"{env_file.name}.bak-{stamp}")
    shutil.copy2(env_file, backup)
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
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(temporary, env_file.stat().st_mode & 0o777)
    temporary.replace(env_file)
    return backup


def restore_env_file(env_file: Path, backup: Path) -> None:
    """Put the copy ``backup`` back in place of ``env_file``."""
    temporary = env_file.with_name(env_file.name + ".tmp")
    shutil.copy2(backup, temporary)
    temporary.replace(env_file)
