"""A bot process for tests: the real Dispatcher fed Telegram updates on stdin, replies on stdout.

    python -m testkit.bot_runner      # settings from the environment (DATABASE_URL, …)

It starts the runtime (readiness, migrations) like `bandwise bot`, then prints one JSON line
``{"ready": true, "pid": …}``. Each stdin line is a Telegram ``Update`` as JSON; updates are
handled concurrently, as polling does, and each one's outcome is printed as
``{"update_id": …, "replies": [texts sent], "methods": [methods called], "error": …}``. An
empty line is a barrier: once every update before it is handled, ``{"batch_done": n}`` is
printed. End of input stops the process. Only Telegram is imitated (a recording session per
update); the database, services and handlers are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from aiogram import Dispatcher
from aiogram.types import Update
from pydantic import ValidationError

from bandwise.bot.dispatcher import build_dispatcher
from bandwise.config import load_settings
from bandwise.logs import setup_logging
from bandwise.runtime import open_runtime
from testkit.bot_driver import sent_texts
from testkit.telegram import recording_bot


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def handle_line(dispatcher: Dispatcher, line: str) -> dict[str, Any]:
    """Feed one JSON update through ``dispatcher``; return what the bot sent in reply."""
    try:
        update = Update.model_validate_json(line)
    except ValidationError as error:
        return {"update_id": None, "replies": [], "methods": [], "error": f"bad update: {error}"}
    bot, session = recording_bot()
    error_text = None
    try:
        await dispatcher.feed_update(bot, update)
    except Exception as error:  # reported to the test, which decides what it means
        error_text = f"{type(error).__name__}: {error}"
    requests = session.take()
    return {
        "update_id": update.update_id,
        "replies": sent_texts(requests),
        "methods": [type(request).__name__ for request in requests],
        "error": error_text,
    }


async def serve_stdin(dispatcher: Dispatcher) -> None:
    """Handle stdin's updates concurrently until end of input; answer each barrier."""
    pending: set[asyncio.Task[None]] = set()

    async def handle(line: str) -> None:
        _emit(await handle_line(dispatcher, line))

    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        if not line.strip():
            count = len(pending)
            if pending:
                await asyncio.wait(set(pending))
            _emit({"batch_done": count})
            continue
        task = asyncio.create_task(handle(line))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(set(pending))


async def run() -> None:
    """Start the runtime from the environment, announce readiness, serve stdin, clean up."""
    settings = load_settings(os.environ.get("BANDWISE_ENV_FILE") or None)
    setup_logging(settings.log_level)
    async with open_runtime(settings) as runtime:
        dispatcher = build_dispatcher(runtime)
        _emit({"ready": True, "pid": os.getpid()})
        await serve_stdin(dispatcher)


def main() -> None:
    """Run the bot runner (logs go to stderr, protocol lines to stdout)."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
