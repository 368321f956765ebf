"""Run the HTTP service: open the runtime first, then serve it with uvicorn on the same loop.

Opening the runtime outside uvicorn's lifespan means a database that never comes up ends the
process with one clear message and the exit code of ``DatabaseUnavailable`` (no traceback).
bandwise, not uvicorn, handles SIGTERM and SIGINT, so the runtime's orderly stop runs: uvicorn
stops accepting connections and finishes the requests in flight (SHUTDOWN_GRACE_SECONDS),
then the bot drains its updates within what is left of the same grace period.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import uvicorn

from bandwise.api.app import create_app
from bandwise.config import Settings, check_serve_settings
from bandwise.runtime import open_runtime, stop_on_signals

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (``stop_on_signals`` asks it to exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGTERM and SIGINT to bandwise."""
        yield


async def serve_http(settings: Settings) -> None:
    """Wait for the database, migrate, start the bot (BOT_TOKEN), serve HTTP until stopped."""
    check_serve_settings(settings)  # a bad configuration stops us before the database
    with_bot = settings.bot_token is not None
    async with open_runtime(settings, with_bot=with_bot, with_http=True) as runtime:
        application = create_app(settings, runtime=runtime)
        log.info(
            "HTTP on http://%s:%d (engine %s: %s)",
            settings.api_host,
            settings.api_port,
            settings.engine_name,
            settings.masked_database_url,
        )
        config = uvicorn.Config(
            application,
            host=settings.api_host,
            port=settings.api_port,
            log_level=settings.log_level.lower(),
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        )
        server = _Server(config)

        def stop() -> None:
            if runtime.stop_requested_at is None:
                runtime.stop_requested_at = time.monotonic()
            if runtime.bot is not None:
                runtime.bot.stopping = True  # webhook posts get 503 from now on
            server.should_exit = True

        with stop_on_signals(stop):
            await server.serve()
