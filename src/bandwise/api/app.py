"""The FastAPI application factory; its lifespan opens the runtime unless given one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import bandwise
from bandwise.api.errors import install_error_handlers
from bandwise.api.limits import BodySizeLimit
from bandwise.api.routes import health, monitoring, submissions
from bandwise.api.routes.docs import install_docs
from bandwise.api.routes.telegram import build_webhook_router
from bandwise.api.security import ApiTokenGate
from bandwise.config import Settings, check_api_settings
from bandwise.runtime import Runtime, open_runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the lifespan starts the runtime unless one is handed in (tests)."""
    check_api_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:  # opened by the caller (serve_http, tests), who also stops it
            app.state.runtime = runtime
            yield
            return
        with_bot = settings.bot_token is not None
        async with open_runtime(settings, with_bot=with_bot, with_http=True) as opened:
            app.state.runtime = opened
            yield

    app = FastAPI(
        title="bandwise",
        version=bandwise.__version__,
        lifespan=lifespan,
        description="Scores IELTS Writing essays; health, submissions and history.",
        docs_url=None,  # served by install_docs from a package, not a CDN
        redoc_url=None,
        openapi_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    install_docs(app)
    # Outermost first: the token is checked before any body is read.
    app.add_middleware(BodySizeLimit)
    app.add_middleware(ApiTokenGate, settings=settings)
    app.include_router(health.router)
    app.include_router(submissions.router)
    app.include_router(monitoring.router)
    if settings.webhook_url:
        app.include_router(build_webhook_router(settings.bot_webhook_path))
    return app
