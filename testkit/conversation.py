"""A conversation with the real Dispatcher through a recording bot: feed updates, read replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod

from bandwise.runtime import Runtime
from testkit.telegram import Candidate, RecordingSession


@dataclass
class Conversation:
    """A Dispatcher, a recording bot and helpers to feed updates and read the replies."""

    dispatcher: Dispatcher
    bot: Bot
    session: RecordingSession
    runtime: Runtime
    candidate: Candidate = field(default_factory=Candidate)

    async def send(self, update: Any) -> list[TelegramMethod[Any]]:
        """Feed ``update`` through the Dispatcher and return what the bot sent."""
        await self.dispatcher.feed_update(self.bot, update)
        return self.session.take()

    async def say(self, text: str) -> list[TelegramMethod[Any]]:
        """Send a text message from the candidate."""
        return await self.send(self.candidate.text(text))

    async def press(self, data: str) -> list[TelegramMethod[Any]]:
        """Press an inline button."""
        return await self.send(self.candidate.press(data))
