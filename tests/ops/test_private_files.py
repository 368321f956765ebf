"""Env files, their copies and the reports are owner-only (0600) from their first byte."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bandwise.ops.cutover.envfile import restore_env_file, set_database_url
from bandwise.ops.cutover.report import CutoverReport
from bandwise.ops.importer.render import write_json
from bandwise.ops.importer.report import ImportReport
from bandwise.ops.private_files import write_private_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: only an explicit mode keeps a file private."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def modes_at_rename(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the mode of every file the moment before it is renamed into place."""
    seen: list[int] = []
    original = Path.replace

    def replace(self: Path, target: str | os.PathLike[str]) -> Path:
        seen.append(_mode(self))
        return original(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    return seen


@pytest.mark.usefixtures("open_umask")
def test_the_env_file_rewrite_is_private_throughout(
    tmp_path: Path, modes_at_rename: list[int]
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=sqlite:///data/bandwise.db\nAPI_TOKEN=secret\n")
    env_file.chmod(0o644)
    backup = set_database_url(env_file, "postgresql://bandwise:pw@db/bandwise")
    assert _mode(backup) == 0o600 and _mode(env_file) == 0o600
    assert "postgresql://bandwise:pw@db/bandwise" in env_file.read_text()
    restore_env_file(env_file, backup)
    assert _mode(env_file) == 0o600 and "sqlite:///" in env_file.read_text()
    assert modes_at_rename == [0o600, 0o600]  # each .tmp was private before it became the file


@pytest.mark.usefixtures("open_umask")
def test_an_existing_world_readable_file_is_narrowed_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    path.chmod(0o644)
    write_private_text(path, "new")
    assert _mode(path) == 0o600 and path.read_text() == "new"


@pytest.mark.usefixtures("open_umask")
def test_reports_are_private(tmp_path: Path) -> None:
    written = CutoverReport(rehearsal=True, sqlite_path="a.db", target="postgresql://…").write(
        tmp_path / "reports" / "cutover.json"
    )
    assert [_mode(path) for path in written] == [0o600, 0o600]
    write_json(
        ImportReport(source="a.db", target="postgresql://…", mode="import"),
        tmp_path / "import.json",
    )
    assert _mode(tmp_path / "import.json") == 0o600
