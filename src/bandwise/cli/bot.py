"""`bandwise bot run`: the Telegram bot alone, polling; `bandwise bot try`: chat in a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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


@app.command("try")
def try_command(
    charts_dir: Annotated[
        Path | None,
        typer.Option(help="Where to save the charts the bot sends (default: a new temp dir)."),
    ] = None,
    telegram_id: Annotated[int, typer.Option(help="The Telegram user id you chat as.")] = 7001,
    name: Annotated[str, typer.Option(help="The first name you chat as.")] = "Anna",
) -> None:
    """Chat with the bot in this terminal: real handlers and database, no Telegram."""
    from bandwise.bot.terminal import ChatUser, try_bot

    settings = command_settings()
    user = ChatUser(telegram_id, first_name=name, username=None)
    run(lambda: try_bot(settings, sys.stdin, sys.stdout, charts_dir=charts_dir, user=user))
