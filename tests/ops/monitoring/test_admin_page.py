"""/admin: token handling on both engines, and the rendered page in headless Chromium."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from bandwise.api.app import create_app
from bandwise.config import Settings, load_settings
from bandwise.ops.monitoring.service import monitoring_of, start_monitoring
from bandwise.runtime import Runtime
from testkit.backup import write_manifest
from testkit.essays import TASK2_ESSAY
from testkit.monitoring import ADMIN_TOKEN, asgi_client
from testkit.pg_cluster import PgCluster, free_port
from testkit.tools import require_tool
from testkit.waiting import wait_until


async def test_admin_page_requires_the_token(settings: Settings, runtime: Runtime) -> None:
    guarded = settings.model_copy(update={"admin_token": None})
    runtime.settings = guarded
    monitoring = start_monitoring(runtime)
    try:
        async with asgi_client(create_app(guarded, runtime)) as client:
            assert (await client.get("/admin")).status_code == 404  # off without ADMIN_TOKEN
        runtime.settings = settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
        async with asgi_client(create_app(runtime.settings, runtime)) as client:
            assert (await client.get("/admin")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await client.get("/admin", headers=wrong)).status_code == 401
            assert (await client.get("/admin", params={"token": "nope"})).status_code == 401
            ok = await client.get("/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert ok.status_code == 200
            assert "database health" in ok.text and ADMIN_TOKEN not in ok.text
            redirect = await client.get("/admin", params={"token": ADMIN_TOKEN})
            assert redirect.status_code == 303 and redirect.headers["location"] == "/admin"
            cookie = redirect.cookies["bandwise_admin"]
            assert ADMIN_TOKEN not in cookie
            client.cookies.set("bandwise_admin", cookie)
            page = await client.get("/admin")
            assert page.status_code == 200 and page.text.count("<svg") == 4
    finally:
        await monitoring.stop()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a loopback port (its lifespan included)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=30, what="uvicorn starts")
    assert server.started, "uvicorn stopped before it started"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.system_tools  # headless Chromium
def test_admin_page_renders_in_headless_chromium(
    pg_cluster: PgCluster, pg_template: str, tmp_path: Path, project_root: Path
) -> None:
    chromium = require_tool("chromium", "chromium-browser")
    name = f"t_{uuid.uuid4().hex[:12]}"
    database_url = pg_cluster.create_database(name, template=pg_template)
    try:
        _render_in_chromium(chromium, database_url, tmp_path, project_root)
    finally:
        pg_cluster.drop_database(name)


def _render_in_chromium(
    chromium: str, database_url: str, tmp_path: Path, project_root: Path
) -> None:
    settings = load_settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        db_stats_interval=0.2,
        backup_dir=tmp_path / "backups",
        maintenance_flag_path=tmp_path / "maintenance.flag",
    )
    write_manifest(settings.backup_dir, 1, "passed")
    write_manifest(settings.backup_dir, 2, "failed")
    artifacts = project_root / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot = artifacts / "admin-page.png"
    screenshot.unlink(missing_ok=True)
    app = create_app(settings)
    with serving(app) as base:
        for telegram_id in (1, 2, 3):
            response = httpx.post(
                f"{base}/api/v1/submissions",
                timeout=30,
                json={"telegram_id": telegram_id, "text": TASK2_ESSAY},
            )
            assert response.status_code == 201, response.text
        monitoring = monitoring_of(app.state.runtime)
        assert monitoring is not None
        wait_until(  # a few collector samples for the charts
            lambda: len(monitoring.history.samples()) >= 3, timeout=30, what="three samples"
        )
        url = f"{base}/admin?token={ADMIN_TOKEN}"
        common = [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,1500",
            f"--user-data-dir={tmp_path / 'chromium'}",
        ]
        dom = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
        )
        shot = subprocess.run(
            [*common, f"--screenshot={screenshot}", url],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "bandwise · database health" in html
    assert html.count('class="series"') == 4  # every chart has a line
    assert html.count("time (UTC)") == 4 and "<th>verified</th>" in html  # axes, headers
    assert "BandwiseBackupVerifyFailed" in html  # firing alert listed
    assert "postgresql" in html and ADMIN_TOKEN not in html
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
