"""/start and /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bandwise.bot import keyboards, texts


async def start(message: Message, state: FSMContext) -> None:
    """Greet the candidate and show the main menu."""
    await state.clear()
    first_name = message.from_user.first_name if message.from_user else None
    await message.answer(texts.greeting(first_name), reply_markup=keyboards.main_menu())


async def help_command(message: Message) -> None:
    """Explain how to use the bot."""
    await message.answer(texts.help_text(), reply_markup=keyboards.main_menu())


def build_router() -> Router:
    """Return a new router with this module's handlers (one per dispatcher)."""
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    return router
