"""Resources the commands open: settings and a short-lived engine.

Imported by every command module at start-up: what it needs (pydantic, SQLAlchemy) is imported
when a command asks for it, so that `--help` and commands that need none start without them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bandwise.cli.errors import guarded, translate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bandwise.config import Settings

# How talkative one-shot commands are: 0 (default) warnings only, 1 (-v) INFO, 2 (-vv) DEBUG.
verbosity = 0
_LEVELS = ("WARNING", "INFO", "DEBUG")


def set_verbosity(level: int) -> None:
    """Record the ``-v`` count given before the command."""
    global verbosity
    verbosity = max(0, level)


def command_settings(env_file: Path | None = None, *, service: bool = False) -> Settings:
    """Return the settings for a command (from ``--env-file`` when given) and set up logging.

    A ``service`` (serve, bot run, backup schedule) logs at LOG_LEVEL; a one-shot command prints
    only its result and warnings unless ``-v`` asks for more.
    """
    from bandwise.config import get_settings, load_settings
    from bandwise.logs import setup_logging

    settings = guarded(lambda: load_settings(env_file) if env_file else get_settings())
    if service and verbosity == 0:
        setup_logging(settings.log_level)
    else:
        setup_logging(_LEVELS[min(verbosity, len(_LEVELS) - 1)])
    return settings


@asynccontextmanager
async def open_engine(settings: Settings, url: str | None = None) -> AsyncIterator[AsyncEngine]:
    """Yield an engine without a pool for one command; disposed on exit.

    A driver error inside becomes a domain error naming this engine's (masked) target.
    """
    from bandwise.db.engine import create_engine, describe_target
    from bandwise.db.errors import CONNECTION_ERRORS

    engine = create_engine(settings, url=url, null_pool=True)
    try:
        yield engine
    except CONNECTION_ERRORS as error:
        raise translate(error, describe_target(engine)) from error
    finally:
        await engine.dispose()
