"""The FastAPI application factory; its lifespan owns the runtime (engine and friends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import bandwise
from bandwise.api.errors import install_error_handlers
from bandwise.api.routes import health, monitoring, submissions
from bandwise.config import Settings, check_api_settings
from bandwise.runtime import Runtime, start_runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the lifespan starts the runtime unless one is handed in (tests)."""
    check_api_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        started = await start_runtime(settings)
        app.state.runtime = started
        try:
            bot = None
            if settings.bot_token:
                from bandwise.bot.service import start_bot_service

                bot = await start_bot_service(started)
            try:
                yield
            finally:
                if bot is not None:
                    await bot.stop()
        finally:
            await started.close()

    app = FastAPI(
        title="bandwise",
        version=bandwise.__version__,
        lifespan=lifespan,
        description="Scores IELTS Writing essays; health, submissions and history.",
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(submissions.router)
    app.include_router(monitoring.router)
    if settings.webhook_url:
        # aiogram takes seconds to import: only a webhook deployment pays for it here.
        from bandwise.bot.webhook import build_webhook_router

        app.include_router(build_webhook_router(settings.bot_webhook_path))
    return app
