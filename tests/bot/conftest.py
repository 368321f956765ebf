"""Fixtures for bot conversations: the real Dispatcher over the test database, a recording bot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod

from bandwise.bot.dispatcher import build_dispatcher
from bandwise.devtools.telegram import Candidate, RecordingSession, recording_bot
from bandwise.runtime import Runtime


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


@pytest.fixture
async def conversation(runtime: Runtime) -> Conversation:
    """Return a conversation with the bot over the test's database (both engines)."""
    runtime.settings.bot_processing_notice_seconds = 30.0
    bot, session = recording_bot()
    return Conversation(build_dispatcher(runtime), bot, session, runtime)
