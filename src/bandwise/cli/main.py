"""The `bandwise` command: serve, db, config."""

from __future__ import annotations

import logging

import typer

import bandwise
from bandwise.cli import db as db_commands
from bandwise.cli.context import command_settings
from bandwise.cli.errors import run

app = typer.Typer(
    help="bandwise: IELTS Writing scoring bot and its data platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.app, name="db")

log = logging.getLogger(__name__)


@app.command()
def serve() -> None:
    """Apply migrations and run the HTTP service (and the bot when BOT_TOKEN is set)."""
    from bandwise.api.server import serve_http

    settings = command_settings()
    run(lambda: serve_http(settings))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(bandwise.__version__)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
