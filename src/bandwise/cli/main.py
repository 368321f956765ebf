"""The `bandwise` command: serve, db, config."""

from __future__ import annotations

import gc
import logging
from typing import Annotated

import typer

import bandwise
from bandwise.cli import backup as backup_commands
from bandwise.cli import bot as bot_commands
from bandwise.cli import config as config_commands
from bandwise.cli import db as db_commands
from bandwise.cli import db_status
from bandwise.cli.context import command_settings, set_verbosity
from bandwise.cli.errors import run
from bandwise.db.sqlite_library import stop_memory_statistics

app = typer.Typer(
    help="bandwise: IELTS Writing scoring bot and its data platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_status.register(db_commands.app)
app.add_typer(db_commands.app, name="db")
app.add_typer(bot_commands.app, name="bot")
app.add_typer(config_commands.app, name="config")
app.add_typer(backup_commands.app, name="backup")

log = logging.getLogger(__name__)


@app.callback()
def options(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            metavar=" ",
            help="Log more: -v for progress, -vv for debugging",
        ),
    ] = 0,
) -> None:
    """bandwise: IELTS Writing scoring bot and its data platform."""
    set_verbosity(verbose)


@app.command()
def serve() -> None:
    """Apply migrations and run the HTTP service (and the bot when BOT_TOKEN is set)."""
    from bandwise.api.server import serve_http

    settings = command_settings(service=True)
    run(lambda: serve_http(settings))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(bandwise.__version__)


def main() -> None:
    """Entry point of the console script."""
    # First, while no SQLite connection is open: see the module docstring for the measurements.
    stop_memory_statistics()
    try:
        app()
    finally:
        # The interpreter's collections at exit then skip every object (they are frozen): about
        # 0.1 s after an import, spent before the process could end.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
