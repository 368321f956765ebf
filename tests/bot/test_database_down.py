"""With the database unavailable the candidate still gets the assessment (both engines)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.methods import SendMessage
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bandwise.bot import texts
from bandwise.bot.dispatcher import build_dispatcher
from bandwise.config import Settings
from bandwise.runtime import Runtime
from testkit.conversation import Conversation
from testkit.essays import TASK1_ESSAY
from testkit.monitoring import instance
from testkit.telegram import recording_bot


@pytest.fixture
async def unavailable_runtime(settings: Settings, engine_name: str) -> AsyncIterator[Runtime]:
    """A runtime whose database cannot be used: SQLite locked by a writer, PostgreSQL refused."""
    blocker: sqlite3.Connection | None = None
    if engine_name == "sqlite":
        path = Path(str(make_url(settings.resolved_database_url).database))
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        broken = settings.model_copy(update={"db_sqlite_busy_timeout": 0.1, "db_retry_attempts": 1})
    else:
        refused = SecretStr("postgresql+asyncpg://bandwise@127.0.0.1:1/bandwise")
        broken = settings.model_copy(
            update={"database_url": refused, "db_connect_timeout": 1.0, "db_retry_attempts": 1}
        )
    runtime = instance(broken)
    yield runtime
    await runtime.engine.dispose()
    if blocker is not None:
        blocker.execute("ROLLBACK")
        blocker.close()


async def test_assessment_still_sent_when_history_cannot_be_saved(
    unavailable_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot, session = recording_bot()
    conversation = Conversation(
        build_dispatcher(unavailable_runtime), bot, session, unavailable_runtime
    )
    sent = [m.text for m in await conversation.say(TASK1_ESSAY) if isinstance(m, SendMessage)]
    assert "IELTS Writing Task 1 — assessment" in sent[-2]
    assert sent[-1] == texts.NOT_SAVED
    assert "history not saved" in caplog.text

    history = [m.text for m in await conversation.say("/history") if isinstance(m, SendMessage)]
    assert history == [texts.BUSY]
