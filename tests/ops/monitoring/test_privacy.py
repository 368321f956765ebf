"""No secret, essay text or username in /metrics, health, the admin page or INFO logs."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bandwise.api.app import create_app
from bandwise.config import load_settings
from bandwise.ops.monitoring.service import start_monitoring
from bandwise.runtime import start_runtime
from testkit.essays import TASK2_ESSAY

PASSWORD = "pw-Secret-4242"
API_TOKEN = "api-token-Secret-4242"
ADMIN_TOKEN = "admin-token-Secret-4242"
BOT_TOKEN = "987654:bot-token-Secret-4242"
USERNAME = "alice_private_username"
ESSAY_FRAGMENT = "practical training deserves more attention"


async def test_nothing_private_leaks(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_url.replace("postgres@", f"postgres:{PASSWORD}@")
    settings = load_settings(
        database_url=url,
        api_token=API_TOKEN,
        admin_token=ADMIN_TOKEN,
        bot_token=BOT_TOKEN,
        admin_ids="1",
        alert_telegram_api_url="http://127.0.0.1:9",
        db_stats_interval=60,
        backup_dir=tmp_path / "backups",
        maintenance_flag_path=tmp_path / "maintenance.flag",
    )
    outputs: list[str] = []
    with caplog.at_level(logging.INFO):
        runtime = await start_runtime(settings)
        monitoring = start_monitoring(runtime)
        try:
            app = create_app(settings, runtime)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bandwise") as client:
                created = await client.post(
                    "/api/v1/submissions",
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                    json={"telegram_id": 77, "text": TASK2_ESSAY, "username": USERNAME},
                )
                assert created.status_code == 201, created.text
                failed = await client.post(
                    "/api/v1/submissions",
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                    json={"telegram_id": 77, "text": f"{USERNAME} short", "username": USERNAME},
                )
                assert failed.status_code == 422
                await monitoring.tick()
                for path in ("/metrics", "/health/live", "/health/ready"):
                    # /metrics needs API_TOKEN like every route but /health/*.
                    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
                    response = await client.get(path, headers=bearer)
                    assert response.status_code == 200
                    outputs.append(response.text)
                admin = await client.get(
                    "/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                )
                assert admin.status_code == 200
                outputs.append(admin.text)
        finally:
            await monitoring.stop()
            await runtime.close()
    outputs.append(caplog.text)
    assert 'bandwise_db_query_duration_seconds_count{operation="insert"}' in outputs[0]
    for text in outputs:
        for private in (PASSWORD, API_TOKEN, ADMIN_TOKEN, BOT_TOKEN, USERNAME, ESSAY_FRAGMENT):
            assert private not in text
