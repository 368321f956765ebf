"""/history and the history button: latest bands, the trend and a chart."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bandwise.bot import keyboards, texts
from bandwise.bot.charts import render_band_chart
from bandwise.errors import NotFound
from bandwise.runtime import Runtime
from bandwise.services.history import History, get_history

HISTORY_ITEMS = 10
MIN_CHART_POINTS = 2


async def history_command(message: Message, runtime: Runtime) -> None:
    """Show the candidate's history."""
    user_id = message.from_user.id if message.from_user else message.chat.id
    await _show_history(message, runtime, user_id)


async def history_button(callback: CallbackQuery, runtime: Runtime) -> None:
    """Show the candidate's history from the menu button."""
    await callback.answer()
    if isinstance(callback.message, Message):
        await _show_history(callback.message, runtime, callback.from_user.id)


async def _show_history(message: Message, runtime: Runtime, telegram_id: int) -> None:
    history: History | None
    try:
        history = await get_history(
            runtime.sessions,
            telegram_id,
            HISTORY_ITEMS,
            retry_attempts=runtime.settings.db_retry_attempts,
        )
    except NotFound:
        history = None
    if history is None or history.trend.count == 0:
        await message.answer(texts.NO_HISTORY, reply_markup=keyboards.main_menu())
        return
    await message.answer(texts.history(history), reply_markup=keyboards.after_result())
    if len(history.series) >= MIN_CHART_POINTS:
        chart = await asyncio.to_thread(render_band_chart, history.series)
        await message.answer_photo(
            BufferedInputFile(chart, filename="bands.png"),
            caption="Your overall and criteria bands over time",
        )


def build_router() -> Router:
    """Return a new router with this module's handlers (one per dispatcher)."""
    router = Router(name="history")
    router.message.register(history_command, Command("history"))
    router.callback_query.register(history_button, F.data == keyboards.CB_HISTORY)
    return router
