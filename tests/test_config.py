"""Settings: URL normalisation and composition, masking, clear configuration errors."""

from __future__ import annotations

import subprocess

import pytest

from bandwise.config import (
    check_alerter_settings,
    load_settings,
    mask_url,
    normalise_database_url,
)
from bandwise.errors import ConfigurationError
from testkit.service import subprocess_env


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@h:5433/db", "postgresql+asyncpg://u:p@h:5433/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
    ],
)
def test_database_urls_are_normalised_to_async_drivers(raw: str, expected: str) -> None:
    assert normalise_database_url(raw) == expected


def test_url_is_composed_from_postgres_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("POSTGRES_PORT", "6543")
    monkeypatch.setenv("POSTGRES_DB", "bandwise")
    monkeypatch.setenv("POSTGRES_USER", "bot")
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cr3t/with@chars")
    settings = load_settings()
    assert settings.engine_name == "postgresql"
    assert settings.resolved_database_url == (
        "postgresql+asyncpg://bot:s3cr3t%2Fwith%40chars@db.internal:6543/bandwise"
    )
    assert "s3cr3t" not in settings.masked_database_url
    assert "***" in settings.masked_database_url


def test_default_is_the_embedded_sqlite_file() -> None:
    settings = load_settings()
    assert settings.engine_name == "sqlite"
    assert settings.resolved_database_url == "sqlite+aiosqlite:///data/bandwise.db"


def test_secrets_never_appear_in_repr_or_masked_url() -> None:
    settings = load_settings(
        database_url="postgresql://bot:hunter2@h/db", api_token="tok-1234567890abcdef"
    )
    assert "hunter2" not in repr(settings)
    assert "tok-1234567890abcdef" not in repr(settings)
    assert mask_url(settings.resolved_database_url) == "postgresql+asyncpg://bot:***@h/db"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("DATABASE_URL", "mysql://x@h/db", "DATABASE_URL"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL"),
        ("DB_POOL_SIZE", "zero", "DB_POOL_SIZE"),
        ("API_PORT", "70000", "API_PORT"),
        ("LIMIT_TIMEZONE", "Mars/Olympus", "LIMIT_TIMEZONE"),
        ("POSTGRES_PASSWORD", "changeme", "POSTGRES_PASSWORD"),
    ],
)
def test_invalid_configuration_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert fragment in str(caught.value)


def test_cli_reports_bad_configuration_with_exit_code_2(bandwise_executable: str) -> None:
    result = subprocess.run(
        [bandwise_executable, "db", "current"],
        env=subprocess_env(DB_POOL_SIZE="-3"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DB_POOL_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_admin_ids_accept_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 5123456789")
    assert load_settings().admin_ids == [1, 5_123_456_789]


def test_alerts_use_the_bots_bot_api_server_unless_set_apart() -> None:
    assert load_settings().resolved_alert_telegram_api_url == "https://api.telegram.org"
    local = load_settings(telegram_api_url="http://127.0.0.1:8081")
    assert local.resolved_alert_telegram_api_url == "http://127.0.0.1:8081"
    apart = load_settings(
        telegram_api_url="http://127.0.0.1:8081", alert_telegram_api_url="http://alerts.example"
    )
    assert apart.resolved_alert_telegram_api_url == "http://alerts.example"


def test_api_refuses_public_host_without_token() -> None:
    from bandwise.api.app import create_app

    with pytest.raises(ConfigurationError, match="API_TOKEN"):
        create_app(load_settings(api_host="0.0.0.0"))  # noqa: S104


def test_alerts_behind_pgbouncer_need_a_direct_url_for_the_leadership_lock() -> None:
    bounced = load_settings(
        database_url="postgresql://bandwise:pw@pgbouncer:6432/bandwise",
        db_pgbouncer=True,
        bot_token="123:abc",
        admin_ids="42",
    )
    with pytest.raises(ConfigurationError, match="DATABASE_DIRECT_URL"):
        check_alerter_settings(bounced)
    direct = bounced.model_copy(
        update={
            "database_direct_url": load_settings(
                database_direct_url="postgresql://bandwise:pw@postgres:5432/bandwise"
            ).database_direct_url
        }
    )
    check_alerter_settings(direct)
    assert direct.database_direct_url is not None
    assert direct.database_direct_url.get_secret_value().startswith("postgresql+asyncpg://")
    check_alerter_settings(bounced.model_copy(update={"admin_ids": []}))  # no alerts, no leader
