"""The one start-up function: engine, readiness, migrations, assessor; disposed on exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bandwise.assessment.factory import build_assessor
from bandwise.assessment.types import Assessor
from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.db.readiness import wait_for_database
from bandwise.errors import DatabaseError, MaintenanceMode
from bandwise.ops.maintenance import maintenance_state
from bandwise.services.limits import LimitPolicy
from bandwise.services.submissions import (
    recover_abandoned,
    scoring_deadline,
    sweep_abandoned_periodically,
)

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a running bandwise process shares: built once, passed explicitly."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    assessor: Assessor
    policy: LimitPolicy
    extras: dict[str, Any] = field(default_factory=dict)
    # Requests (HTTP or bot updates) being handled now; a cutover waits for this to reach 0.
    in_flight: int = 0
    # Work running as long as the runtime does (the sweep of abandoned submissions).
    background: list[asyncio.Task[None]] = field(default_factory=list)

    @asynccontextmanager
    async def write_guard(self) -> AsyncIterator[None]:
        """Admit one write unless maintenance mode is on; count it as in flight meanwhile."""
        state = maintenance_state(self.settings.maintenance_flag_path)
        if state is not None:
            raise MaintenanceMode(f"bandwise is being upgraded ({state.reason}); back shortly")
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def start_background(self) -> None:
        """Start the periodic sweep that gives back the checks of abandoned submissions."""
        settings = self.settings
        sweep = sweep_abandoned_periodically(
            self.sessions,
            self.policy,
            older_than=abandoned_after(settings),
            interval=settings.pending_sweep_interval_seconds,
        )
        self.background.append(asyncio.create_task(sweep, name="bandwise-pending-sweep"))

    async def close(self) -> None:
        """Stop the background work and release the engine's connections."""
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.background.clear()
        await self.engine.dispose()


def abandoned_after(settings: Settings) -> timedelta:
    """Return the age past which a pending submission is abandoned (the scoring deadline)."""
    return scoring_deadline(
        settings.ai_timeout, settings.ai_max_retries, settings.pending_sweep_margin_seconds
    )


async def start_runtime(settings: Settings, *, migrate_schema: bool | None = None) -> Runtime:
    """Create the engine, wait for the database, apply migrations, and build the assessor."""
    log.info("bandwise starting on %s: %s", settings.engine_name, settings.masked_database_url)
    engine = create_engine(settings)
    try:
        await wait_for_database(engine, settings.db_startup_timeout)
        should_migrate = (
            settings.run_migrations_on_startup if migrate_schema is None else migrate_schema
        )
        if should_migrate:
            await migrate.upgrade(engine)
        policy = LimitPolicy.from_settings(settings)
        sessions = create_sessionmaker(engine)
        if await migrate.is_at_head(engine):
            try:
                await recover_abandoned(sessions, policy, older_than=abandoned_after(settings))
            except DatabaseError as error:  # never a reason not to start
                log.warning("could not sweep abandoned submissions: %s", error)
    except BaseException:
        await engine.dispose()
        raise
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        assessor=build_assessor(settings),
        policy=policy,
    )
    runtime.start_background()
    return runtime
