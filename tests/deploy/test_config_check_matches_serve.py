"""`config check` refuses exactly what `serve` refuses, and reads BANDWISE_ENV_FILE like it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testkit.service import subprocess_env

REFUSED = {
    "webhook without secret": (
        "BOT_TOKEN=42:telegram-secret\nWEBHOOK_URL=https://bot.example/telegram/webhook\n",
        "WEBHOOK_SECRET: required when WEBHOOK_URL is set",
    ),
    "webhook over http": (
        "BOT_TOKEN=42:telegram-secret\nWEBHOOK_URL=http://bot.example/hook\n"
        "WEBHOOK_SECRET=a-real-webhook-secret\n",
        "WEBHOOK_URL: must be an https:// URL",
    ),
    "public API without token": ("API_HOST=0.0.0.0\n", "API_TOKEN: required when API_HOST"),
}


def _bandwise(executable: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable, *args],
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_config_check_and_serve_refuse_the_same_file(
    case: str, tmp_path: Path, bandwise_executable: str
) -> None:
    content, message = REFUSED[case]
    env_file = tmp_path / "app.env"
    env_file.write_text(
        f"DATABASE_URL=sqlite:///{tmp_path / 'bandwise.db'}\nAPI_PORT=1\n{content}", "utf-8"
    )
    by_option = _bandwise(bandwise_executable, "config", "check", "--env-file", str(env_file))
    by_variable = _bandwise(bandwise_executable, "config", "check", BANDWISE_ENV_FILE=str(env_file))
    served = _bandwise(bandwise_executable, "serve", BANDWISE_ENV_FILE=str(env_file))
    for result in (by_option, by_variable, served):
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr and "telegram-secret" not in result.stderr
    assert not (tmp_path / "bandwise.db").exists()  # refused before touching the database


def test_config_check_reads_the_env_file_the_variable_names(
    tmp_path: Path, bandwise_executable: str
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("API_PORT=9123\n", "utf-8")
    result = _bandwise(bandwise_executable, "config", "check", BANDWISE_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert f"env file {env_file}" in result.stdout
    assert "API_PORT" in result.stdout and "9123" in result.stdout
