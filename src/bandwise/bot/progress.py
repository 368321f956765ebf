"""Keep the candidate informed while an essay is scored: typing, then "processing…"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiogram import Bot
from aiogram.enums import ChatAction

from bandwise.bot import texts

log = logging.getLogger(__name__)
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing" for about five seconds


async def _keep_informed(bot: Bot, chat_id: int, notice_after: float) -> None:
    waited = 0.0
    noticed = False
    while True:
        step = (
            TYPING_REFRESH_SECONDS
            if noticed
            else min(TYPING_REFRESH_SECONDS, notice_after - waited)
        )
        await asyncio.sleep(max(0.0, step))
        waited += step
        if not noticed and waited >= notice_after:
            await bot.send_message(chat_id, texts.PROCESSING)
            noticed = True
        await bot.send_chat_action(chat_id, ChatAction.TYPING)


@contextlib.asynccontextmanager
async def scoring_feedback(bot: Bot, chat_id: int, notice_after: float) -> AsyncIterator[None]:
    """Show "typing" at once and send the processing notice if scoring outlasts ``notice_after``."""
    await bot.send_chat_action(chat_id, ChatAction.TYPING)
    task = asyncio.create_task(_keep_informed(bot, chat_id, notice_after))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("progress updates failed: %s", task.exception())
