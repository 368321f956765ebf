"""Readiness with every pooled connection in use: says the pool is full, not the server down."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text

from bandwise.config import Settings
from bandwise.ops.health import check_readiness
from bandwise.runtime import open_runtime

pytestmark = pytest.mark.timeout(60)


async def test_a_full_pool_is_named_as_the_cause(settings: Settings, engine_name: str) -> None:
    """Hold the pool's only connection: readiness fails on the pool, naming it."""
    small = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    async with open_runtime(small) as runtime, AsyncExitStack() as held:
        connection = await held.enter_async_context(runtime.engine.connect())
        await connection.execute(text("SELECT 1"))
        report = await check_readiness(runtime, timeout=0.5)
    checks = {check.name: (check.ok, check.detail) for check in report.checks}
    assert not report.ready
    assert checks["pool"] == (False, "1/1 in use"), report.as_dict()
    if engine_name == "postgresql":  # the probe waits for the pool; the server was never asked
        assert checks["database"] == (
            False,
            "not checked: every pooled connection is in use",
        ), report.as_dict()
    else:  # SQLite's probe reads the file through its own read-only engine
        assert checks["database"][0] is True, report.as_dict()
