"""Every command meets a wrong password, a stopped server and a missing database in three lines.

Real servers only: the session's PostgreSQL cluster (a role that needs a password, a database
that does not exist), a loopback port nobody listens on, and a SQLite path that cannot exist.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bandwise.cli.main import app
from bandwise.config import get_settings
from testkit.legacy import quirky_legacy_data, write_legacy_file
from testkit.pg_cluster import PgCluster, free_port

PASSWORD_ROLE = "bw_password_role"
RIGHT_PASSWORD = "the-right-password"
WRONG_PASSWORD = "a-wrong-password"

# What each failure must say: the cause and the start of what to try.
EXPECTED = {
    "wrong password": (
        f'password authentication failed for user "{PASSWORD_ROLE}"',
        "try: check the password",
    ),
    "stopped server": ("connection refused", "try: is PostgreSQL running and listening on"),
    "missing database": ("does not exist", "try: create it (createdb"),
}
DATABASE_COMMANDS = [
    ["db", "current"],
    ["db", "check"],
    ["db", "upgrade"],
    ["db", "downgrade", "base"],
    ["db", "status"],
    ["db", "wait", "--timeout", "1"],
    ["backup", "create"],
]


@pytest.fixture(scope="module")
def password_role(pg_cluster: PgCluster) -> Iterator[str]:
    """Create a role that must log in with a password (scram), and its database."""
    pg_cluster.psql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{RIGHT_PASSWORD}'")
    pg_cluster.psql(f"CREATE DATABASE {PASSWORD_ROLE} OWNER {PASSWORD_ROLE}")
    hba = pg_cluster.datadir / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{original}")
    pg_cluster.psql("SELECT pg_reload_conf()")
    yield PASSWORD_ROLE
    hba.write_text(original)
    pg_cluster.psql("SELECT pg_reload_conf()")
    pg_cluster.drop_database(PASSWORD_ROLE)
    pg_cluster.psql(f"DROP ROLE {PASSWORD_ROLE}")


def _failing_url(pg_cluster: PgCluster, password_role: str, failure: str) -> str:
    host = pg_cluster.host
    if failure == "wrong password":
        return f"postgresql://{password_role}:{WRONG_PASSWORD}@{host}:{pg_cluster.port}/bw"
    if failure == "stopped server":
        return f"postgresql://postgres:{WRONG_PASSWORD}@{host}:{free_port()}/bandwise"
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    return f"postgresql://postgres:{WRONG_PASSWORD}@{host}:{pg_cluster.port}/{missing}"


def _invoke(args: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _assert_three_lines(output: str, cause: str, hint: str, target_part: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) <= 3, output
    assert lines[0].startswith("error: cannot use the database: ") and cause in lines[0], output
    assert lines[1].startswith("  target: ") and target_part in lines[1], output
    assert lines[2].startswith(f"  {hint}"), output
    assert WRONG_PASSWORD not in output and "Traceback" not in output, output


@pytest.mark.parametrize("failure", list(EXPECTED))
@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_postgresql_failures_in_three_lines(
    args: list[str],
    failure: str,
    pg_cluster: PgCluster,
    password_role: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = _failing_url(pg_cluster, password_role, failure)
    code, output = _invoke(
        args, monkeypatch, DATABASE_URL=url, BACKUP_DIR=str(tmp_path / "backups")
    )
    assert code == 3, output  # DatabaseUnavailable (cli/errors.py EXIT_CODES)
    cause, hint = EXPECTED[failure]
    _assert_three_lines(output, cause, hint, ":***@")


@pytest.mark.parametrize("failure", list(EXPECTED))
def test_import_and_cutover_name_the_failing_target(
    failure: str,
    pg_cluster: PgCluster,
    password_role: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    legacy = write_legacy_file(tmp_path / "legacy.db", quirky_legacy_data())
    url = _failing_url(pg_cluster, password_role, failure)
    cause, hint = EXPECTED[failure]
    for args in (
        ["db", "import-sqlite", str(legacy), "--target", url],
        ["db", "verify-import", str(legacy), "--target", url],
        ["db", "cutover", "--sqlite", str(legacy), "--postgres", url, "--rehearse"],
    ):
        code, output = _invoke(args, monkeypatch, BACKUP_DIR=str(tmp_path / "backups"))
        assert code == 3, (args, output)
        _assert_three_lines(output, cause, hint, ":***@")


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_sqlite_file_that_cannot_be_created(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    path = blocker / "data" / "bandwise.db"
    code, output = _invoke(
        args, monkeypatch, DATABASE_URL=f"sqlite:///{path}", BACKUP_DIR=str(tmp_path / "b")
    )
    assert code == 3, output
    _assert_three_lines(
        output, "cannot create the folder", "try: make sure the folder of", str(blocker)
    )


def test_a_working_command_prints_no_log_lines(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _invoke(["db", "check"], monkeypatch, DATABASE_URL=database_url)
    assert code == 0 and output.strip() == "models and migrations agree", output
    code, output = _invoke(["-v", "db", "current"], monkeypatch, DATABASE_URL=database_url)
    assert code == 0 and logging.getLogger().level == logging.INFO, output  # -v: progress lines
