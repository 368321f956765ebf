"""Monitoring-test helpers: a fixed moment with statistics and backups around it, the admin page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from bandwise.assessment.offline import OfflineAssessor
from bandwise.config import Settings
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.ops.monitoring.backups import BackupRecord
from bandwise.ops.monitoring.pg_stats import DatabaseStats
from bandwise.runtime import Runtime
from bandwise.services.limits import LimitPolicy

NOW = 1_800_000_000.0
ADMIN_TOKEN = "admin-token-for-tests-0123456789"


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    """Return an HTTP client that calls ``app`` in this process (no server, no lifespan)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bandwise")


def pg(**values: object) -> DatabaseStats:
    """Return healthy PostgreSQL statistics collected at NOW, with ``values`` replaced."""
    base = DatabaseStats(
        engine="postgresql",
        collected_at=NOW,
        up=True,
        max_connections=100,
        connections={"active": 1, "idle": 4},
        commits=1000,
        rollbacks=0,
        blocks_hit=99_000,
        blocks_read=1_000,
    )
    return replace(base, **values)  # type: ignore[arg-type]


def backup(hours_ago: float, outcome: str | None = "passed") -> BackupRecord:
    """Return a backup taken ``hours_ago`` before NOW whose verification gave ``outcome``."""
    created = datetime.fromtimestamp(NOW, UTC) - timedelta(hours=hours_ago)
    return BackupRecord("b1", created, 1000, 2.0, created if outcome else None, outcome)


def instance(settings: Settings) -> Runtime:
    """Return one more instance's runtime (own engine, offline assessor) over ``settings``."""
    engine = create_engine(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        assessor=OfflineAssessor(),
        policy=LimitPolicy.from_settings(settings),
    )
