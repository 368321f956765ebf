"""Fixtures for backup tests: a seeded database with its own backup directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine
from testkit.backup import seed


@pytest.fixture
async def seeded(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Yield a pool-less engine on the test's database, seeded with a few candidates."""
    engine = create_engine(settings, null_pool=True)
    await seed(engine)
    yield engine
    await engine.dispose()
