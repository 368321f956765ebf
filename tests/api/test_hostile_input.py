"""The HTTP API under hostile input and outages: a 4xx naming the field or a 503, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bandwise.api.app import create_app
from bandwise.api.limits import MAX_BODY_BYTES
from bandwise.cli.main import app as cli_app
from bandwise.config import get_settings
from bandwise.runtime import Runtime
from testkit.essays import TASK2_ESSAY
from tests.bot.test_database_down import unavailable_runtime  # noqa: F401 - a fixture

TOKEN = "a-long-enough-api-token-0123456789"


def _client(runtime: Runtime) -> httpx.AsyncClient:
    app = create_app(runtime.settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://bandwise.test")


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(runtime) as client:
        yield client


def _raw_json(text: str) -> dict[str, object]:
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


async def test_an_id_beyond_bigint_is_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/users/18446744073709551616/history", "/api/v1/users/0/history"):
        response = await client.get(path)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "telegram_id"
    huge = await client.post(
        "/api/v1/submissions", json={"telegram_id": 2**64, "text": TASK2_ESSAY}
    )
    assert huge.status_code == 422 and huge.json()["field"] == "telegram_id"


@pytest.mark.parametrize("field", ["text", "username", "first_name", "task_type"])
async def test_a_lone_surrogate_is_422(client: httpx.AsyncClient, field: str) -> None:
    body = {"telegram_id": 42, "text": json.dumps(TASK2_ESSAY)[1:-1]}
    body[field] = "ok \\udc80 ok"
    raw = (
        "{"
        + ", ".join(
            f'"{key}": {value}' if key == "telegram_id" else f'"{key}": "{value}"'
            for key, value in body.items()
        )
        + "}"
    )
    response = await client.post("/api/v1/submissions", **_raw_json(raw))  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize("field", ["username", "first_name", "text"])
async def test_a_nul_byte_is_422_on_both_engines(client: httpx.AsyncClient, field: str) -> None:
    body: dict[str, object] = {"telegram_id": 43, "text": TASK2_ESSAY, field: "name\x00here"}
    if field == "text":
        body["text"] = TASK2_ESSAY + "\x00"
    response = await client.post("/api/v1/submissions", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and "NUL" in response.json()["detail"]


async def test_a_huge_body_is_413_before_parsing(client: httpx.AsyncClient) -> None:
    essay = "word " * 2_000_000  # 10 MB
    declared = await client.post("/api/v1/submissions", json={"telegram_id": 1, "text": essay})
    assert declared.status_code == 413 and len(declared.content) < 200

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"telegram_id": 1, "text": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    streamed = await client.post(
        "/api/v1/submissions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_422_never_echoes_the_input(client: httpx.AsyncClient) -> None:
    essay = "z" * (MAX_BODY_BYTES // 2)  # under the body limit, over the essay's maximum
    response = await client.post("/api/v1/submissions", json={"telegram_id": 1, "text": essay})
    assert response.status_code == 422 and response.json()["field"] == "text"
    assert len(response.content) < 1_000 and "zzzz" not in response.text


async def test_an_outage_is_503_on_every_route_without_internals(
    unavailable_runtime: Runtime,  # noqa: F811
) -> None:
    async with _client(unavailable_runtime) as client:
        responses = [
            await client.get("/api/v1/users/42/history"),
            await client.post("/api/v1/submissions", json={"telegram_id": 42, "text": TASK2_ESSAY}),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["retryable"] is True and response.headers["Retry-After"]
        for internal in ("postgresql", "sqlite", "127.0.0.1", "asyncpg", "Errno", ".db"):
            assert internal not in response.text, response.text


async def test_the_token_guards_everything_but_health(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    guarded = Runtime(settings, runtime.engine, runtime.sessions, runtime.assessor, runtime.policy)
    async with _client(guarded) as client:
        for path in (
            "/metrics",
            "/openapi.json",
            "/docs",
            "/docs/assets/swagger-ui.css",
            "/api/v1/users/1/history",
            "/redoc",
        ):
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"] == "Unauthorized"
            allowed = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert allowed.status_code != 401, path
        for path in ("/health/live", "/health/ready"):
            assert (await client.get(path)).status_code == 200, path


async def test_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "/docs/assets/swagger-ui-bundle.js" in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


def test_a_short_api_token_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "fifteen-chars-x")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, ["serve"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: API_TOKEN: must be at least 16 characters (generate one with: openssl rand -hex 32)"
    )
