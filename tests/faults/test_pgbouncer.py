"""The data layer and the service through PgBouncer in transaction pooling mode.

PgBouncer (Debian package, `scripts/ensure-pgbouncer.sh`) runs in front of the session's
cluster (it is never stopped here). Migrations, repositories, services and the real service
process all pass through it with ``DB_PGBOUNCER=true``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.assessment.offline import OfflineAssessor
from bandwise.config import Settings, load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.errors import DailyLimitReached, DatabaseError
from bandwise.services.history import get_history
from bandwise.services.limits import LimitPolicy
from bandwise.services.submissions import EssayRequest, submit_essay
from testkit.faults import ServiceFactory
from testkit.load import HttpDriver, essay_for, run_load
from testkit.pg_cluster import PgCluster
from testkit.pgbouncer import PgBouncer

pytestmark = pytest.mark.system_tools  # PgBouncer


@pytest.fixture(scope="module")
def pgbouncer(pg_cluster: PgCluster) -> Iterator[PgBouncer]:
    """Run PgBouncer (transaction pooling, 5 server connections) in front of the session cluster."""
    bouncer = PgBouncer(pg_cluster, default_pool_size=5).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
def bounced_database(pg_cluster: PgCluster) -> Iterator[str]:
    """Create an empty database and return its name (dropped afterwards)."""
    name = f"pgb_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_database(name)
    yield name
    pg_cluster.drop_database(name)


@pytest.fixture
def bounced_settings(pgbouncer: PgBouncer, bounced_database: str) -> Settings:
    """Settings reaching the database through PgBouncer with DB_PGBOUNCER=true."""
    return load_settings(
        database_url=pgbouncer.url(bounced_database),
        db_pgbouncer=True,
        daily_submission_limit=3,
        db_pool_size=20,
        db_max_overflow=0,
    )


@pytest.fixture
async def bounced_engine(bounced_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Yield an engine through PgBouncer on a database migrated to head through PgBouncer."""
    engine = create_engine(bounced_settings)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def test_migrations_through_pgbouncer(bounced_settings: Settings) -> None:
    """Upgrade, re-upgrade (no-op), downgrade and upgrade again, all through PgBouncer."""
    engine = create_engine(bounced_settings, null_pool=True)
    try:
        first = await migrate.upgrade(engine)
        assert first.after == migrate.head_revision()
        assert not (await migrate.upgrade(engine)).changed
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.is_at_head(engine)
    finally:
        await engine.dispose()


async def test_concurrent_submissions_and_limits_through_pgbouncer(
    bounced_engine: AsyncEngine, bounced_settings: Settings
) -> None:
    """40 concurrent submissions for 8 users (limit 3) through 5 server connections: exact."""
    sessions = create_sessionmaker(bounced_engine)
    policy = LimitPolicy.from_settings(bounced_settings)
    assessor = OfflineAssessor()

    async def submit(index: int) -> bool:
        try:
            await submit_essay(
                sessions,
                assessor,
                policy,
                EssayRequest(telegram_id=700 + index % 8, text=essay_for(index, 1)),
            )
        except DailyLimitReached:
            return False
        return True

    outcomes = await asyncio.gather(*(submit(index) for index in range(40)))
    assert outcomes.count(True) == 8 * 3
    history = await get_history(sessions, 700, 10)
    assert len(history.items) == 3
    assert all(item.assessment is not None for item in history.items)


@pytest.mark.timeout(60)
async def test_service_under_load_through_pgbouncer(
    pgbouncer: PgBouncer, bounced_database: str, service_factory: ServiceFactory
) -> None:
    """The real service with DB_PGBOUNCER=true: 30 candidates for 3 s, no error of any kind."""
    service = service_factory(
        pgbouncer.url(bounced_database), db_pgbouncer="true", db_pool_size="30", db_max_overflow="0"
    )
    await asyncio.to_thread(service.wait_ready)
    async with HttpDriver(service.base_url) as driver:
        report = await run_load(driver, users=30, duration=3)
    assert report.acknowledged
    assert not report.errors, report.errors


async def test_without_db_pgbouncer_prepared_statements_break(
    pgbouncer: PgBouncer, bounced_database: str
) -> None:
    """The control: the same concurrent work without DB_PGBOUNCER fails on prepared statements."""
    plain = load_settings(
        database_url=pgbouncer.url(bounced_database),
        db_pgbouncer=False,
        db_pool_size=20,
        db_max_overflow=0,
        daily_submission_limit=1000,
    )
    migrated = create_engine(plain.model_copy(update={"db_pgbouncer": True}), null_pool=True)
    await migrate.upgrade(migrated)
    await migrated.dispose()
    engine = create_engine(plain)
    sessions = create_sessionmaker(engine)
    policy = LimitPolicy.from_settings(plain)
    assessor = OfflineAssessor()

    async def submit(index: int) -> str:
        try:
            await submit_essay(
                sessions,
                assessor,
                policy,
                EssayRequest(telegram_id=1 + index % 10, text=essay_for(index, 1)),
            )
        except DatabaseError as error:
            return str(error)
        return "ok"

    try:
        outcomes = await asyncio.gather(*(submit(index) for index in range(60)))
    finally:
        await engine.dispose()
    assert any("prepared statement" in outcome for outcome in outcomes), outcomes[:3]
