"""The one lifecycle: ``open_runtime`` starts what a process runs and stops it in order.

`bandwise serve`, `bandwise bot run`, the FastAPI lifespan and the tests all enter
``open_runtime``: engine, readiness, migrations and assessor first; then (as asked) the
monitoring and the bot; background tasks beside them. On exit it stops taking updates,
lets those in flight finish within ``SHUTDOWN_GRACE_SECONDS``, cancels the background tasks
and releases every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bandwise.assessment.factory import build_assessor
from bandwise.assessment.types import Assessor
from bandwise.config import Settings, check_webhook_settings
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

if TYPE_CHECKING:  # the bot and monitoring import this module; at run time they come lazily
    from aiogram import Bot

    from bandwise.bot.service import BotService
    from bandwise.ops.monitoring.service import Monitoring

log = logging.getLogger(__name__)

SCHEMA_REMEDY = (
    "Apply the migrations with `bandwise db upgrade` (or start with "
    "RUN_MIGRATIONS_ON_STARTUP=true), or run the code of the schema's revision."
)


@dataclass
class Runtime:
    """Everything a running bandwise process shares: built once, passed explicitly."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    assessor: Assessor
    policy: LimitPolicy
    bot: BotService | None = None  # the bot of this process (BOT_TOKEN), when it runs here
    monitoring: Monitoring | None = None  # metrics, statistics and alerts (the HTTP service)
    # Requests (HTTP or bot updates) being handled now; a cutover waits for this to reach 0.
    in_flight: int = 0
    stop_requested_at: float | None = None  # time.monotonic() of the stop signal
    background: set[asyncio.Task[None]] = field(default_factory=set)

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

    def start_background(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``work`` beside the runtime until it ends or the runtime stops (then cancelled)."""
        task = asyncio.get_running_loop().create_task(work, name=f"bandwise-{name}")
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def stop_background(self) -> None:
        """Cancel the background tasks and wait for them to end."""
        tasks = set(self.background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        """Release the engine's connections."""
        await self.engine.dispose()


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
        # Checked before the engine's first connection, which switches a SQLite file to WAL:
        # a file the service refuses stays byte for byte as it was.
        await migrate.require_head(
            engine, lock_timeout=settings.db_sqlite_busy_timeout, remedy=SCHEMA_REMEDY
        )
        policy = LimitPolicy.from_settings(settings)
        sessions = create_sessionmaker(engine)
        try:
            await recover_abandoned(sessions, policy, older_than=abandoned_after(settings))
        except DatabaseError as error:  # never a reason not to start
            log.warning("could not sweep abandoned submissions: %s", error)
    except BaseException:
        await engine.dispose()
        raise
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        assessor=build_assessor(settings),
        policy=policy,
    )


def abandoned_after(settings: Settings) -> timedelta:
    """Return the age past which a pending submission is abandoned (the scoring deadline)."""
    return scoring_deadline(
        settings.ai_timeout, settings.ai_max_retries, settings.pending_sweep_margin_seconds
    )


def start_pending_sweep(runtime: Runtime) -> asyncio.Task[None]:
    """Give back, every so often, the checks of submissions abandoned while pending.

    Every instance runs it (rows are claimed once); cancelled with the runtime.
    """
    settings = runtime.settings
    sweep = sweep_abandoned_periodically(
        runtime.sessions,
        runtime.policy,
        older_than=abandoned_after(settings),
        interval=settings.pending_sweep_interval_seconds,
    )
    return runtime.start_background(sweep, "pending-sweep")


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(on_stop: Callable[[], None]) -> Iterator[None]:
    """Call ``on_stop`` on SIGTERM or SIGINT while the block runs (instead of dying at once)."""
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, _announce_stop, signum, on_stop)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _announce_stop(signum: signal.Signals, on_stop: Callable[[], None]) -> None:
    log.info("%s received: stopping (requests and updates in flight finish first)", signum.name)
    on_stop()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    with_bot: bool = False,
    with_http: bool = False,
    migrate_schema: bool | None = None,
    bot: Bot | None = None,
) -> AsyncIterator[Runtime]:
    """Start the runtime (and the bot, and the HTTP service's monitoring); stop all on exit.

    ``with_bot`` starts the bot (polling, or webhook registration when ``WEBHOOK_URL`` is set)
    without waiting for Telegram: it connects in the background and readiness reports it.
    ``bot`` replaces the Bot built from ``BOT_TOKEN`` (tests: a recording session).
    """
    if with_bot:
        check_webhook_settings(settings)  # a bad bot configuration stops us before the database
    runtime = await start_runtime(settings, migrate_schema=migrate_schema)
    try:
        if with_http:
            from bandwise.ops.monitoring.service import start_monitoring

            start_monitoring(runtime)
        # Background tasks of the runtime start here (runtime.start_background), after the
        # database is ready; they are cancelled below once the bot has drained.
        start_pending_sweep(runtime)
        if with_bot:
            from bandwise.bot.service import start_bot_service

            await start_bot_service(runtime, bot)
        yield runtime
    finally:
        await _stop(runtime)


async def _stop(runtime: Runtime) -> None:
    """Stop in order: the bot (drains its updates), background tasks, monitoring, the engine."""
    try:
        if runtime.bot is not None:
            await runtime.bot.stop()
        await runtime.stop_background()
        if runtime.monitoring is not None:
            await runtime.monitoring.stop()
    finally:
        await runtime.close()
