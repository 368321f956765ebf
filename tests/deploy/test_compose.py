"""docker-compose.yml: every profile renders, and the rendered configuration is safe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from testkit.deploy import PROJECT_ROOT, compose_command, script_env

PROFILES = ("", "pgbouncer", "redis", "prometheus", "proxy", "pgbouncer,redis,prometheus,proxy")


def render(project: Path, profiles: str) -> dict[str, Any]:
    """Render the compose file of ``project`` with ``profiles`` enabled; return it parsed."""
    result = subprocess.run(
        [*compose_command(), "config"],
        cwd=project,
        env=script_env(None, COMPOSE_PROFILES=profiles),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"compose config failed for {profiles!r}: {result.stderr}"
    rendered: dict[str, Any] = yaml.safe_load(result.stdout)
    return rendered


def published_ports(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (host ip, published port, target) of a service, whatever the client's syntax."""
    ports: list[tuple[str, str, str]] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append(
                (str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"]))
            )
        else:
            parts = str(port).split("/")[0].split(":")
            host_ip = parts[0] if len(parts) == 3 else ""
            ports.append((host_ip, parts[-2] if len(parts) > 1 else "", parts[-1]))
    return ports


def volume_sources(service: dict[str, Any]) -> list[str]:
    """Return the named volume or host path behind each of a service's mounts."""
    sources: list[str] = []
    for volume in service.get("volumes", []):
        sources.append(volume["source"] if isinstance(volume, dict) else volume.split(":")[0])
    return sources


def condition(service: dict[str, Any], dependency: str) -> str | None:
    """Return the depends_on condition of ``service`` on ``dependency``."""
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return "service_started" if dependency in depends else None
    entry = depends.get(dependency)
    return entry.get("condition") if entry else None


@pytest.mark.system_tools  # Docker Compose
@pytest.mark.usefixtures("filled_env")
@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: p or "default")
def test_every_profile_renders_and_is_safe(project: Path, profiles: str) -> None:
    config = render(project, profiles)
    services = config["services"]
    enabled = set(filter(None, profiles.split(",")))
    assert {"postgres", "bot", "backup"} | enabled <= set(services)
    for name, service in services.items():
        # The core services run always; the others only in their own profile. (The compose v1
        # client renders every service whatever is enabled, so absence is not asserted.)
        expected_profiles = [] if name in ("postgres", "bot", "backup") else [name]
        assert service.get("profiles", []) == expected_profiles, name
    for name, service in services.items():
        for host_ip, published, target in published_ports(service):
            # 5432 (and everything else) reachable from the droplet only, never on 0.0.0.0.
            assert host_ip == "127.0.0.1", (
                f"{name} publishes {target} as {published} on {host_ip or 'every interface'}"
            )
        assert service.get("restart") == "unless-stopped", name
        assert service["logging"]["driver"] == "json-file", name
        assert service["logging"]["options"]["max-size"], name
    for dependant in ("bot", "backup", "pgbouncer"):
        if dependant in services:
            assert condition(services[dependant], "postgres") == "service_healthy", dependant


@pytest.mark.system_tools  # Docker Compose
@pytest.mark.usefixtures("filled_env")
def test_postgres_service_is_initialised_safely(project: Path) -> None:
    postgres = render(project, "")["services"]["postgres"]
    environment = postgres["environment"]
    assert postgres["image"].startswith("postgres:17")
    assert "UTF8" in environment["POSTGRES_INITDB_ARGS"]
    # The image's superuser is not the application's role.
    assert environment["POSTGRES_USER"] == "postgres"
    assert environment["BANDWISE_APP_USER"] == "bandwise"
    test = postgres["healthcheck"]["test"]
    command = " ".join(test if isinstance(test, list) else [test])
    assert re.search(r"pg_isready -h 127\.0\.0\.1 -U bandwise -d bandwise", command)
    assert "postgres-data" in volume_sources(postgres)
    assert any(source.endswith("deploy/postgres") for source in volume_sources(postgres))
    settings = " ".join(postgres["command"])
    for setting in ("max_connections=", "shared_buffers=", "password_encryption=scram-sha-256"):
        assert setting in settings


@pytest.mark.system_tools  # Docker Compose
@pytest.mark.usefixtures("filled_env")
def test_bot_and_backup_share_database_url_and_volumes(project: Path) -> None:
    services = render(project, "")["services"]
    bot, backup = services["bot"], services["backup"]
    secret = "0123456789abcdef0123456789abcdef"
    url = f"postgresql://bandwise:{secret}@postgres:5432/bandwise"
    assert bot["environment"]["DATABASE_URL"] == url
    assert backup["environment"]["DATABASE_URL"] == url
    # Behind PgBouncer too, the alerter's session-level lock goes to PostgreSQL itself.
    assert (
        render(project, "pgbouncer")["services"]["bot"]["environment"]["DATABASE_DIRECT_URL"] == url
    )
    # Inside its container the service must listen beyond loopback (published on 127.0.0.1).
    assert bot["environment"]["API_HOST"] == "0.0.0.0"  # noqa: S104
    assert bot["environment"]["API_TOKEN"] == secret
    assert bot["command"] == ["bandwise", "serve"]
    assert backup["command"] == ["bandwise", "backup", "schedule"]
    assert "backups" in volume_sources(backup) and "backups" in volume_sources(bot)
    assert "bandwise-data" in volume_sources(bot) and "bandwise-data" in volume_sources(backup)
    assert bot["image"] == backup["image"] == "bandwise:latest"
    for service in (bot, backup):
        assert service["environment"]["POSTGRES_SUPERUSER_PASSWORD"] in ("", None)


@pytest.mark.system_tools  # Docker Compose
def test_missing_api_token_is_refused(project: Path, filled_env: Path) -> None:
    text = filled_env.read_text(encoding="utf-8")
    filled_env.write_text(re.sub(r"(?m)^API_TOKEN=.*$", "", text), encoding="utf-8")
    result = subprocess.run(
        [*compose_command(), "config", "--quiet"],
        cwd=project,
        env=script_env(None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "API_TOKEN" in result.stderr


def test_dockerfile_is_multi_stage_non_root_and_healthchecked() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"(?m)^FROM ", text)) >= 2
    assert "python:3.11-slim" in text
    assert re.search(r"(?m)^RUN pip install --no-deps -r requirements\.lock$", text)
    users = re.findall(r"(?m)^USER (\S+)", text)
    assert users and not users[-1].startswith(("root", "0")), "the image must not run as root"
    healthcheck = re.search(r"(?ms)^HEALTHCHECK .*?\n(?=\S)", text)
    assert healthcheck and "/health/ready" in healthcheck.group(0)
    assert "urllib" in healthcheck.group(0) and "curl" not in healthcheck.group(0)
    assert re.search(r'(?m)^CMD \["bandwise", "serve"\]$', text)
    assert "postgresql-client-${PG_MAJOR}" in text


def test_client_tools_match_the_server_major_version() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    production = (PROJECT_ROOT / ".env.production").read_text(encoding="utf-8")
    image_default = re.search(r"(?m)^ARG PG_MAJOR=(\d+)$", dockerfile)
    assert image_default
    major = image_default.group(1)
    assert f'image: "${{POSTGRES_IMAGE:-postgres}}:${{PG_MAJOR:-{major}}}-bookworm"' in compose
    assert f'PG_MAJOR: "${{PG_MAJOR:-{major}}}"' in compose
    assert f"PG_MAJOR={major}" in production


def test_production_defaults_are_the_official_images_and_pgdg() -> None:
    # The deploy tests swap these for stand-ins through variables; unset, production's apply.
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in dockerfile
    assert "ARG PG_CLIENT_SOURCE=pgdg" in dockerfile
    assert 'PYTHON_IMAGE: "${PYTHON_IMAGE:-python:3.11-slim-bookworm}"' in compose
    assert 'PG_CLIENT_SOURCE: "${PG_CLIENT_SOURCE:-pgdg}"' in compose
    assert 'image: "${REDIS_IMAGE:-redis:7.4-bookworm}"' in compose
    assert 'network: "${BANDWISE_BUILD_NETWORK:-default}"' in compose


def test_dockerignore_keeps_secrets_and_data_out_of_the_image() -> None:
    lines = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert lines[lines.index("*")] == "*", "everything is excluded unless listed"
    allowed = {line for line in lines if line.startswith("!")}
    assert allowed == {"!requirements.lock", "!pyproject.toml", "!README.md", "!src/"}


@pytest.mark.usefixtures("filled_env")
def test_prometheus_sends_the_api_token(project: Path) -> None:
    """/metrics needs API_TOKEN: the compose Prometheus writes it where prometheus.yml reads it."""
    prometheus = render(project, "prometheus")["services"]["prometheus"]
    assert prometheus["environment"]["API_TOKEN"] == "0123456789abcdef0123456789abcdef"
    script = prometheus["entrypoint"][2].replace("$$", "$")  # clients differ in escaping
    config = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "bandwise"]
    assert job["authorization"]["type"] == "Bearer"
    token_file = job["authorization"]["credentials_file"]
    assert f'"$API_TOKEN" > {token_file}' in script and "umask 077" in script
    assert script.endswith('exec /bin/prometheus "$@"')
