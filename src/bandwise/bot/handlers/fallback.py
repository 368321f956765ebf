"""Guidance for unknown commands and for messages that are not text."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message

from bandwise.bot import keyboards, texts


async def unknown_command(message: Message) -> None:
    """Point to /help."""
    await message.answer(texts.UNKNOWN_COMMAND)


async def not_text(message: Message) -> None:
    """Explain that essays must be sent as text."""
    await message.answer(texts.NON_TEXT, reply_markup=keyboards.main_menu())


def build_router() -> Router:
    """Return a new router with this module's handlers (one per dispatcher)."""
    router = Router(name="fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(not_text, ~F.text)
    return router
