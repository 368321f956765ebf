"""Two service processes on one PostgreSQL: race-free start-up migrations, exact daily limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bandwise.db.migrate import head_revision
from testkit.faults import APP_DATABASE, ServiceFactory
from testkit.load import essay_for
from testkit.pg_cluster import PgCluster

LIMIT = 3
REQUESTS = 20
TELEGRAM_ID = 5551234


@pytest.mark.timeout(60)
async def test_two_instances_migrate_once_and_share_the_daily_limit(
    private_cluster: PgCluster, service_factory: ServiceFactory
) -> None:
    """Both start at once on an empty database; 20 concurrent checks for one user: exactly 3."""
    url = private_cluster.url(APP_DATABASE)
    first = service_factory(url, daily_submission_limit=str(LIMIT))
    second = service_factory(url, daily_submission_limit=str(LIMIT))
    await asyncio.gather(asyncio.to_thread(first.wait_ready), asyncio.to_thread(second.wait_ready))

    versions = private_cluster.psql("SELECT version_num FROM alembic_version", APP_DATABASE)
    assert versions.split() == [head_revision()]
    applied = [s for s in (first, second) if "schema upgrade: base →" in s.log_text()]
    assert len(applied) == 1, "exactly one instance applies the migrations; the other waits"

    async with httpx.AsyncClient(timeout=30) as client:

        async def submit(index: int) -> int:
            target = (first, second)[index % 2].base_url
            response = await client.post(
                f"{target}/api/v1/submissions",
                json={"telegram_id": TELEGRAM_ID, "text": essay_for(index, 1)},
            )
            return response.status_code

        codes = await asyncio.gather(*(submit(index) for index in range(REQUESTS)))
    assert sorted(codes) == [201] * LIMIT + [429] * (REQUESTS - LIMIT)
    stored = private_cluster.psql(
        "SELECT count(*) FROM submissions s JOIN users u ON u.id = s.user_id "
        f"WHERE u.telegram_id = {TELEGRAM_ID}",
        APP_DATABASE,
    )
    used = private_cluster.psql(
        "SELECT r.submission_count FROM rate_limits r JOIN users u ON u.id = r.user_id "
        f"WHERE u.telegram_id = {TELEGRAM_ID}",
        APP_DATABASE,
    )
    assert (int(stored), int(used)) == (LIMIT, LIMIT)


@pytest.mark.timeout(60)
async def test_instances_starting_together_migrate_one_sqlite_file_once(
    tmp_path: Path, service_factory: ServiceFactory
) -> None:
    """Three processes start on one fresh SQLite file: one migrates, the others wait for it."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    services = [service_factory(url) for _ in range(3)]
    await asyncio.gather(*(asyncio.to_thread(service.wait_ready) for service in services))
    applied = [s for s in services if "schema upgrade: base →" in s.log_text()]
    assert len(applied) == 1, [s.log_text()[-500:] for s in services]
