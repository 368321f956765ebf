"""`bandwise bot run`: the Telegram bot alone, polling, without the HTTP service."""

from __future__ import annotations

import typer

from bandwise.cli.context import command_settings
from bandwise.cli.errors import run

app = typer.Typer(help="The Telegram bot.", no_args_is_help=True)


@app.command("run")
def run_command() -> None:
    """Run the bot with long polling until interrupted (BOT_TOKEN required)."""
    from bandwise.bot.service import run_bot

    settings = command_settings(service=True)
    run(lambda: run_bot(settings))
