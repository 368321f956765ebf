"""One instance sends the alerts, on either engine and behind PgBouncer's transaction pooling.

The PgBouncer tests give it one server connection, so every client shares it: a
session-level lock taken through it is deterministically left behind on that connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bandwise.config import Settings, load_settings
from bandwise.db.engine import create_engine
from bandwise.ops.monitoring.leader import ALERTER_LOCK_KEY, AdvisoryLockLeader
from bandwise.ops.monitoring.service import Monitoring
from testkit.monitoring import instance
from testkit.pg_cluster import PgCluster
from testkit.pgbouncer import PgBouncer

HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = :key"
)


async def leaders_after_ticks(instances: list[Monitoring], rounds: int) -> list[list[bool]]:
    """Tick every instance ``rounds`` times; return who led after each round."""
    seen = []
    for _ in range(rounds):
        for monitoring in instances:
            await monitoring.tick()
        seen.append([monitoring.alerter.is_leader for monitoring in instances])
    return seen


async def hand_over(settings: Settings) -> None:
    """Two instances: one leads throughout; when it stops, the other takes over."""
    runtimes = [instance(settings), instance(settings)]
    instances = [Monitoring(runtime) for runtime in runtimes]
    try:
        rounds = await leaders_after_ticks(instances, 4)
        assert all(leaders.count(True) == 1 for leaders in rounds), rounds
        first = rounds[-1].index(True)
        await instances[first].stop()
        survivor = instances[1 - first]
        rounds = await leaders_after_ticks([survivor], 3)
        assert rounds[-1] == [True], rounds
    finally:
        for monitoring in instances:
            await monitoring.stop()
        for runtime in runtimes:
            await runtime.close()


async def test_one_instance_leads_and_hands_over_when_it_stops(
    settings: Settings, engine_name: str
) -> None:
    # An alert destination: without one nobody needs to lead.
    await hand_over(settings.model_copy(update={"alert_webhook_url": "http://127.0.0.1:9/hook"}))


@pytest.fixture
def shared_connection(pg_cluster: PgCluster) -> Iterator[PgBouncer]:
    """PgBouncer (transaction pooling) with a single server connection for every client."""
    bouncer = PgBouncer(pg_cluster, default_pool_size=1).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
def bounced(
    pg_cluster: PgCluster, pg_template: str, shared_connection: PgBouncer, tmp_path: Path
) -> Iterator[Settings]:
    """Settings reaching a fresh database through PgBouncer, with its direct URL beside."""
    name = f"lead_{uuid.uuid4().hex[:10]}"
    direct = pg_cluster.create_database(name, template=pg_template)
    yield load_settings(
        database_url=shared_connection.url(name),
        database_direct_url=direct,
        db_pgbouncer=True,
        alert_webhook_url="http://127.0.0.1:9/hook",
        backup_dir=tmp_path / "backups",
        maintenance_flag_path=tmp_path / "maintenance.flag",
    )
    pg_cluster.drop_database(name)


@pytest.mark.system_tools  # PgBouncer
async def test_behind_pgbouncer_the_lock_lives_on_a_direct_connection(bounced: Settings) -> None:
    await hand_over(bounced)


@pytest.mark.system_tools  # PgBouncer
async def test_a_session_lock_through_transaction_pooling_outlives_its_holder(
    bounced: Settings,
) -> None:
    """Why the direct connection: through PgBouncer a gone leader's lock blocks everyone."""
    assert bounced.database_url is not None and bounced.database_direct_url is not None
    through = create_engine(bounced, null_pool=True)
    direct = create_engine(bounced, url=bounced.database_direct_url.get_secret_value())
    try:
        gone, waiting = AdvisoryLockLeader(through), AdvisoryLockLeader(through)
        assert await gone.refresh()
        await gone.release()  # its client connection closes; the server connection stays
        for _ in range(4):
            assert not await waiting.refresh()
        async with direct.connect() as connection:
            assert await connection.scalar(HELD, {"key": ALERTER_LOCK_KEY}) == 1
        await waiting.release()
    finally:
        await through.dispose()
        await direct.dispose()
