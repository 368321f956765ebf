"""deploy/lib.sh run for real: secrets, env editing, rollback decisions, backup age."""

from __future__ import annotations

import re
import shlex
import stat
from pathlib import Path

import pytest

from testkit.deploy import run_lib


def lib(project: Path, snippet: str) -> str:
    """Run ``snippet`` with deploy/lib.sh sourced; return its output (fails on error)."""
    result = run_lib(project, snippet)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_generated_secrets_are_strong_and_url_safe(project: Path) -> None:
    secrets = lib(project, "generate_secret; generate_secret; generate_secret").split()
    assert len(set(secrets)) == 3
    for secret in secrets:
        assert re.fullmatch(r"[0-9a-f]{64}", secret)


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("", True),
        ("changeme", True),
        ("CHANGEME", True),
        ("password", True),
        ("change-me", True),
        ("s3cr3t-Long", False),
        ("changeme2", False),
    ],
)
def test_placeholders_are_recognised(project: Path, value: str, placeholder: bool) -> None:
    result = run_lib(project, f"is_placeholder '{value}'")
    assert (result.returncode == 0) is placeholder


def test_env_set_replaces_in_place_and_keeps_everything_else(project: Path) -> None:
    env = project / "x.env"
    env.write_text(
        "# comment mentioning API_TOKEN=old\nAPI_TOKEN=old\nOTHER=1\n"
        "# API_TOKEN=commented\nAPI_TOKEN=duplicate\nexport LAST=z\n",
        encoding="utf-8",
    )
    tricky = r"a&b\c/d|e$f'g\"h"
    lib(project, f"env_set {env} API_TOKEN {shlex.quote(tricky)}; env_set {env} NEW value")
    assert env.read_text(encoding="utf-8").splitlines() == [
        "# comment mentioning API_TOKEN=old",
        f"API_TOKEN={tricky}",
        "OTHER=1",
        "# API_TOKEN=commented",
        "export LAST=z",
        "NEW=value",
    ]
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert lib(project, f"env_get {env} API_TOKEN").strip() == tricky
    assert lib(project, f"env_get {env} LAST").strip() == "z"
    assert lib(project, f"env_get {env} MISSING") == ""
    assert not list(project.glob(".env-edit.*")), "no temporary file is left behind"


def test_env_get_strips_quotes_and_ignores_comments(project: Path) -> None:
    env = project / "x.env"
    env.write_text("# A=commented\nA=\"quoted value\"\nB='single'\nC=\n", encoding="utf-8")
    assert lib(project, f"env_get {env} A").strip() == "quoted value"
    assert lib(project, f"env_get {env} B").strip() == "single"
    assert lib(project, f"env_get {env} C") == "\n"


def test_env_set_refuses_bad_names_and_newlines(project: Path) -> None:
    env = project / "x.env"
    env.write_text("A=1\n", encoding="utf-8")
    bad_name = run_lib(project, f"env_set {env} 'A B' x")
    assert bad_name.returncode != 0 and "invalid variable name" in bad_name.stderr
    newline = run_lib(project, f"env_set {env} A $'x\\ny'")
    assert newline.returncode != 0 and "newline" in newline.stderr
    assert env.read_text(encoding="utf-8") == "A=1\n"


def test_ensure_secret_fills_placeholders_and_never_overwrites(project: Path) -> None:
    env = project / "x.env"
    env.write_text("API_TOKEN=changeme\nADMIN_TOKEN=my-own-token\n", encoding="utf-8")
    output = lib(
        project,
        f"ensure_secret {env} API_TOKEN; ensure_secret {env} ADMIN_TOKEN; "
        f"ensure_secret {env} WEBHOOK_SECRET",
    )
    assert "generated API_TOKEN" in output and "kept existing ADMIN_TOKEN" in output
    values = dict(line.split("=", 1) for line in env.read_text(encoding="utf-8").splitlines())
    assert re.fullmatch(r"[0-9a-f]{64}", values["API_TOKEN"])
    assert values["ADMIN_TOKEN"] == "my-own-token"
    assert re.fullmatch(r"[0-9a-f]{64}", values["WEBHOOK_SECRET"])
    before = env.read_text(encoding="utf-8")
    lib(project, f"ensure_secret {env} API_TOKEN; ensure_secret {env} WEBHOOK_SECRET")
    assert env.read_text(encoding="utf-8") == before, "a second run changes nothing"


def test_ensure_env_file_copies_the_template_once_with_mode_0600(project: Path) -> None:
    env, template = project / ".env", project / ".env.production"
    lib(project, f"ensure_env_file {env} {template}")
    assert env.read_text(encoding="utf-8") == template.read_text(encoding="utf-8")
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    env.write_text("KEEP=1\n", encoding="utf-8")
    env.chmod(0o644)
    lib(project, f"ensure_env_file {env} {template}")
    assert env.read_text(encoding="utf-8") == "KEEP=1\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("value", "ok"), [("abc-DEF_1.2~3", True), ("p@ss", False), ("a/b", False), ("a b", False)]
)
def test_passwords_must_be_url_safe(project: Path, value: str, ok: bool) -> None:
    result = run_lib(project, f"require_url_safe POSTGRES_PASSWORD '{value}'")
    assert (result.returncode == 0) is ok
    if not ok:
        assert "POSTGRES_PASSWORD may contain only" in result.stderr


@pytest.mark.parametrize(
    ("stage", "before", "now", "plan"),
    [
        ("pull", "0003", "", "none"),
        ("build", "0003", "", "retag"),
        ("backup", "0003", "", "retag"),
        ("migrate", "0003", "0003", "retag restore-hint"),
        ("migrate", "0003", "0004", "downgrade retag restore-hint"),
        ("restart", "0003", "0004", "downgrade retag restart restore-hint"),
        ("health", "0003", "0004", "downgrade retag restart restore-hint"),
        ("health", "0003", "0003", "retag restart restore-hint"),
        ("health", "0003", "", "retag restart restore-hint"),
        ("health", "base", "0004", "retag restart restore-hint"),
        ("health", "", "0004", "retag restart restore-hint"),
    ],
)
def test_rollback_decisions(project: Path, stage: str, before: str, now: str, plan: str) -> None:
    assert lib(project, f"rollback_plan {stage} '{before}' '{now}'").strip() == plan


def test_rollback_plan_refuses_unknown_stages(project: Path) -> None:
    result = run_lib(project, "rollback_plan deploy 1 2")
    assert result.returncode != 0 and "unknown stage" in result.stderr


@pytest.mark.parametrize(
    ("newest", "verdict"), [("", "none"), ("1000", "ok"), ("-92600", "ok"), ("-92601", "stale")]
)
def test_backup_age_verdict(project: Path, newest: str, verdict: str) -> None:
    # now = 1000, limit 26 h = 93600 s: 1000 - 93600 = -92600 is exactly at the limit.
    assert lib(project, f"backup_age_verdict '{newest}' 1000 26").strip() == verdict


@pytest.mark.parametrize(
    ("listing", "expected"),
    [
        (
            '[{"id": "a", "created_at": "2026-01-01T00:00:00+00:00"},'
            ' {"id": "b", "created_at": "2026-01-02T00:00:00Z"}]',
            "1767312000",
        ),
        ('{"backups": [{"created_at": "2026-01-01T00:00:00"}]}', "1767225600"),
        ("[]", ""),
    ],
)
def test_newest_backup_is_read_from_the_json_listing(
    project: Path, listing: str, expected: str
) -> None:
    assert lib(project, f"newest_backup_epoch <<< '{listing}'").strip() == expected


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ('{"status": "ok", "checks": {"database": {"ok": true}}}', "none"),
        ('{"checks": {"bot": {"ok": true, "detail": "polling, up"}}}', "ok\tpolling, up"),
        (
            '{"checks": {"bot": {"ok": false, "detail": "polling, down: refused"}}}',
            "down\tpolling, down: refused",
        ),
        ("no answer", "unknown"),
    ],
)
def test_bot_state(project: Path, body: str, state: str) -> None:
    assert lib(project, f"bot_state <<< '{body}'").rstrip("\n") == state
