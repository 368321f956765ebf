"""`bandwise config docs/check` and the env files: the reference and the code never drift."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bandwise.config import Settings, load_settings
from bandwise.config_docs import (
    CONFIGURATION_DOC,
    check_configuration,
    describe_settings,
    render_configuration_doc,
)
from bandwise.errors import ConfigurationError
from testkit.deploy import PROJECT_ROOT
from testkit.service import subprocess_env

# Read by docker-compose.yml only; the application ignores them.
COMPOSE_ONLY = {
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_PROFILES",
    "PG_MAJOR",
    "BANDWISE_TAG",
    "POSTGRES_SUPERUSER",
    "POSTGRES_SUPERUSER_PASSWORD",
    "BANDWISE_DB_HOST",
    "BANDWISE_DB_PORT",
    "API_BIND",
    "API_HOST_PORT",
    "POSTGRES_HOST_PORT",
    "POSTGRES_MAX_CONNECTIONS",
    "POSTGRES_SHARED_BUFFERS",
    "POSTGRES_EFFECTIVE_CACHE_SIZE",
}
SETTINGS = {name.upper() for name in Settings.model_fields}


def assignments(path: Path, *, commented: bool) -> list[str]:
    """Return the variables assigned in an env file (also ``# NAME=`` lines if ``commented``)."""
    pattern = r"(?m)^(?:# )?([A-Z][A-Z0-9_]*)=" if commented else r"(?m)^([A-Z][A-Z0-9_]*)="
    return re.findall(pattern, path.read_text(encoding="utf-8"))


def test_configuration_doc_matches_the_settings_class() -> None:
    committed = (PROJECT_ROOT / CONFIGURATION_DOC).read_text(encoding="utf-8")
    assert committed == render_configuration_doc(), (
        "docs/configuration.md is out of date: run `bandwise config docs`"
    )


def test_every_setting_is_documented_with_type_default_and_secrecy() -> None:
    docs = {doc.variable: doc for doc in describe_settings()}
    assert set(docs) == SETTINGS
    assert all(doc.description for doc in docs.values())
    assert docs["API_TOKEN"].secret and docs["DATABASE_URL"].secret
    assert not docs["API_PORT"].secret
    assert (
        docs["API_PORT"].type_name == "integer ≥ 1, ≤ 65535" and docs["API_PORT"].default == "8080"
    )
    assert docs["LOG_LEVEL"].type_name == "one of DEBUG, INFO, WARNING, ERROR"
    assert docs["ADMIN_IDS"].type_name == "comma-separated integers"
    assert docs["BOT_TOKEN"].default == "(unset)"


def test_config_docs_check_reports_drift(tmp_path: Path, bandwise_executable: str) -> None:
    target = tmp_path / "configuration.md"
    run = [bandwise_executable, "config", "docs", "--output", str(target)]
    stale = subprocess.run(
        [*run, "--check"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stale.returncode == 1 and "out of date" in stale.stderr
    written = subprocess.run(
        run, env=subprocess_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert (
        written.returncode == 0 and target.read_text(encoding="utf-8") == render_configuration_doc()
    )
    fresh = subprocess.run(
        [*run, "--check"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fresh.returncode == 0


def test_env_example_lists_every_setting_with_a_comment() -> None:
    example = PROJECT_ROOT / ".env.example"
    lines = example.read_text(encoding="utf-8").splitlines()
    listed = assignments(example, commented=True)
    assert set(listed) == SETTINGS, f"missing: {SETTINGS - set(listed)}"
    for index, line in enumerate(lines):
        if re.match(r"^(# )?[A-Z][A-Z0-9_]*=", line):
            previous = lines[index - 1]
            assert previous.startswith("# ") and "=" not in previous.split()[1], (
                f".env.example line {index + 1} ({line}) has no comment above it"
            )


def test_env_example_is_a_valid_development_configuration() -> None:
    report = check_configuration(PROJECT_ROOT / ".env.example", environ={})
    assert report.engine == "sqlite"


def test_env_production_names_only_known_variables() -> None:
    listed = set(assignments(PROJECT_ROOT / ".env.production", commented=False))
    assert listed - SETTINGS <= COMPOSE_ONLY, f"unknown: {listed - SETTINGS - COMPOSE_ONLY}"


def test_env_production_placeholders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="POSTGRES_PASSWORD is still the placeholder"):
        check_configuration(PROJECT_ROOT / ".env.production", environ={})
    filled = tmp_path / "production.env"
    filled.write_text(
        (PROJECT_ROOT / ".env.production")
        .read_text(encoding="utf-8")
        .replace("=changeme", "=0123456789abcdef"),
        encoding="utf-8",
    )
    report = check_configuration(filled, environ={})
    assert report.engine == "postgresql"
    assert "0123456789abcdef" not in report.database_url


def test_config_check_masks_secrets_and_exits_2_on_error(
    tmp_path: Path, bandwise_executable: str
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(
        "DATABASE_URL=postgresql://bot:hunter2hunter2@db.internal/bandwise\n"
        "API_TOKEN=tok-1234567890abcdef\nBOT_TOKEN=42:telegram-secret\nAPI_PORT=9000\n",
        "utf-8",
    )
    good = subprocess.run(
        [bandwise_executable, "config", "check", "--env-file", str(env_file)],
        env=subprocess_env(API_PORT="9001"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    for secret in ("hunter2hunter2", "tok-1234567890abcdef", "telegram-secret"):
        assert secret not in good.stdout + good.stderr
    assert re.search(r"(?m)^  API_TOKEN +\*\*\* +\[env file\]$", good.stdout)
    assert re.search(r"(?m)^  API_PORT +9001 +\[environment\]$", good.stdout)
    assert "API_PORT in the env file is overridden by the environment" in good.stderr
    assert "postgresql+asyncpg://bot:***@db.internal/bandwise" in good.stdout
    env_file.write_text("API_PORT=99999\n", "utf-8")
    bad = subprocess.run(
        [bandwise_executable, "config", "check", "--env-file", str(env_file)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "API_PORT" in bad.stderr
    missing = subprocess.run(
        [bandwise_executable, "config", "check", "--env-file", str(tmp_path / "nope.env")],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_compose_waits_longer_than_the_shutdown_grace_period() -> None:
    """docker compose must not SIGKILL the service while essays in flight may still finish."""
    import yaml

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    period = compose["services"]["bot"]["stop_grace_period"]
    assert period.endswith("s")
    assert float(period[:-1]) > Settings.model_fields["shutdown_grace_seconds"].default


def test_shutdown_grace_must_cover_the_scoring_deadline() -> None:
    with pytest.raises(ConfigurationError, match="SHUTDOWN_GRACE_SECONDS"):
        load_settings(shutdown_grace_seconds=100, ai_timeout=60, ai_max_retries=2)
