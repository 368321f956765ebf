"""Resources the commands open: settings and a short-lived engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.cli.errors import guarded
from bandwise.config import Settings, get_settings, load_settings
from bandwise.db.engine import create_engine
from bandwise.logs import setup_logging


def command_settings(env_file: Path | None = None) -> Settings:
    """Return the settings for a command (from ``--env-file`` when given) and set up logging."""
    settings = guarded(lambda: load_settings(env_file) if env_file else get_settings())
    setup_logging(settings.log_level)
    return settings


@asynccontextmanager
async def open_engine(settings: Settings, url: str | None = None) -> AsyncIterator[AsyncEngine]:
    """Yield an engine without a pool for one command; disposed on exit."""
    engine = create_engine(settings, url=url, null_pool=True)
    try:
        yield engine
    finally:
        await engine.dispose()
