"""Run the HTTP service: start the runtime first, then serve it with uvicorn on the same loop.

Starting the runtime outside uvicorn's lifespan means a database that never comes up ends the
process with one clear message and the exit code of ``DatabaseUnavailable`` (no traceback).
"""

from __future__ import annotations

import logging

import uvicorn

from bandwise.api.app import create_app
from bandwise.config import Settings, check_serve_settings
from bandwise.runtime import start_runtime

log = logging.getLogger(__name__)


async def serve_http(settings: Settings) -> None:
    """Wait for the database, migrate, start the bot (BOT_TOKEN), serve HTTP until stopped."""
    check_serve_settings(settings)  # a bad configuration stops us before the database
    if settings.bot_token is not None:
        from bandwise.bot.service import start_bot_service

    runtime = await start_runtime(settings)
    bot = None
    try:
        if settings.bot_token is not None:
            bot = await start_bot_service(runtime)  # imported above with the bot settings
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
        )
        await uvicorn.Server(config).serve()
    finally:
        if bot is not None:
            await bot.stop()
        await runtime.close()
