"""Fixtures for bot conversations: the real Dispatcher over the test database, a recording bot."""

from __future__ import annotations

import pytest

from bandwise.bot.dispatcher import build_dispatcher
from bandwise.runtime import Runtime
from testkit.conversation import Conversation
from testkit.telegram import recording_bot


@pytest.fixture
async def conversation(runtime: Runtime) -> Conversation:
    """Return a conversation with the bot over the test's database (both engines)."""
    runtime.settings.bot_processing_notice_seconds = 30.0
    bot, session = recording_bot()
    return Conversation(build_dispatcher(runtime), bot, session, runtime)
