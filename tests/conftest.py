"""Test fixtures: a throwaway PostgreSQL cluster owned by the session, SQLite files, runtimes.

Every data-layer test takes ``database_url`` (or a fixture built on it) and so runs twice:
once on a SQLite file and once on a fresh database of the session's PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bandwise.assessment.offline import OfflineAssessor
from bandwise.config import Settings, get_settings, load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.runtime import Runtime
from bandwise.services.limits import LimitPolicy
from testkit.pg_cluster import PgCluster

ENGINES = ("sqlite", "postgresql")
TEMPLATE_DB = "bandwise_template"
# Fixtures that start a PostgreSQL cluster (the session's, or one of the test's own).
CLUSTER_FIXTURES = frozenset({"pg_cluster", "private_cluster"})
# Fixtures that start `bandwise` child processes: seconds of interpreter start-up each.
PROCESS_FIXTURES = frozenset({"bandwise_executable", "service_factory", "live"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` what needs PostgreSQL, ``slow`` what starts `bandwise` processes."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("engine_name") == "postgresql"
        if on_postgresql or CLUSTER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.postgres)
        if PROCESS_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the machine's environment (a DATABASE_URL, say) out of every test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("BANDWISE_ENV_FILE", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start the session's throwaway PostgreSQL cluster on a free loopback port."""
    cluster = PgCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _upgrade(url: str) -> None:
    async def main() -> None:
        engine = create_engine(load_settings(database_url=url), null_pool=True)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    """Create a database migrated to head once; tests clone it (fast) with CREATE ... TEMPLATE."""
    pg_cluster.create_database(TEMPLATE_DB)
    _upgrade(pg_cluster.url(TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a SQLite file migrated to head once; tests copy it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def pg_database(pg_cluster: PgCluster) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """Parametrise a test over both engines."""
    return str(request.param)


@pytest.fixture
def empty_database_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Return the URL of an empty database on the engine under test."""
    if engine_name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def database_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Return the URL of a fresh database at schema head on the engine under test."""
    if engine_name == "sqlite":
        path = tmp_path / "bandwise.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = cluster.create_database(name, template=template)
    yield url
    cluster.drop_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own database, maintenance flag and backup directory."""
    return load_settings(
        database_url=database_url,
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
        db_startup_timeout=5,
        db_connect_timeout=3,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Yield the engine for ``settings`` (disposed afterwards)."""
    created = create_engine(settings)
    yield created
    await created.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return a session factory on ``engine``."""
    return create_sessionmaker(engine)


@pytest.fixture
def runtime(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> Runtime:
    """Return a runtime over the test's database with the offline assessor."""
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        assessor=OfflineAssessor(),
        policy=LimitPolicy.from_settings(settings),
    )


@pytest.fixture(scope="session")
def project_root() -> Path:
    """Return the repository's root directory."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bandwise_executable(project_root: Path) -> str:
    """Return the path of the installed `bandwise` console script."""
    candidate = project_root / ".venv" / "bin" / "bandwise"
    found = str(candidate) if candidate.exists() else shutil.which("bandwise")
    assert found, "the bandwise console script is not installed (run make install)"
    return found
