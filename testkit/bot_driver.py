"""The load harness's bot driver: candidates send essays as Telegram updates to the Dispatcher.

Each submission is one text-message update fed through the real Dispatcher (routers,
middlewares, FSM, handlers, services, database) in this process. Only Telegram is imitated:
every candidate has a bot wired to a recording session, and the outcome is read from what
the bot sent back — the assessment, the daily-limit refusal, the "busy" reply, … Database
errors met on the way are attributed to the submission that met them, so "database is
locked" is counted even when the candidate still got an (unsaved) assessment.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import SendMessage, TelegramMethod

from bandwise import events
from bandwise.bot import texts
from bandwise.bot.dispatcher import build_dispatcher
from bandwise.runtime import Runtime
from testkit.load import OK, Outcome
from testkit.telegram import Candidate, RecordingSession, recording_bot

ASSESSMENT_MARKER = "— assessment</b>"
LIMIT_MARKER = texts.LIMIT_REACHED.split("{", 1)[0]

# Replies that end a submission without an assessment, and the outcome kind each stands for.
REFUSALS = {
    texts.BUSY: "busy",
    texts.MAINTENANCE: "maintenance",
    texts.SCORING_FAILED: "scoring_failed",
    texts.UNEXPECTED: "unexpected_error",
    texts.ASK_TASK_TYPE: "asked_task_type",
    texts.NOT_ENGLISH: "not_english",
}

# The database errors met while handling the current submission (one list per asyncio task).
_database_errors: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "bot_driver_database_errors", default=None
)
_observer_registered = False


def _note_database_error(failed: events.DatabaseFailed) -> None:
    errors = _database_errors.get()
    if errors is not None:
        errors.append(failed.kind)


def _observe_database_errors() -> None:
    global _observer_registered
    if not _observer_registered:  # observers cannot be removed: register one per process
        events.subscribe(events.DatabaseFailed, _note_database_error)
        _observer_registered = True


def sent_texts(requests: list[TelegramMethod[Any]]) -> list[str]:
    """Return the texts of the messages among ``requests``, in order."""
    return [request.text for request in requests if isinstance(request, SendMessage)]


def classify_replies(replies: list[str], database_errors: list[str]) -> str:
    """Return the outcome kind of one submission from the bot's replies to it.

    ``ok`` needs an assessment that was saved; an assessment the database could not keep is
    ``unsaved:<database error>``; a "busy" reply is ``busy:<database error>`` when one was met.
    """
    cause = database_errors[-1] if database_errors else ""
    if any(ASSESSMENT_MARKER in reply for reply in replies):
        if texts.NOT_SAVED in replies:
            return f"unsaved:{cause or 'unknown'}"
        return OK
    if any(reply.startswith(LIMIT_MARKER) for reply in replies):
        return "daily_limit"
    for reply in replies:
        kind = REFUSALS.get(reply)
        if kind is not None:
            return f"{kind}:{cause}" if kind == "busy" and cause else kind
    return "no_reply" if not replies else "unrecognised_reply"


@dataclass
class BotDriver:
    """Submit essays as Telegram text messages through one in-process Dispatcher."""

    runtime: Runtime
    name: str = "bot"
    dispatcher: Dispatcher | None = None
    _bots: dict[int, tuple[Bot, RecordingSession, Candidate]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dispatcher is None:
            self.dispatcher = build_dispatcher(self.runtime)
        _observe_database_errors()

    def _candidate(self, telegram_id: int) -> tuple[Bot, RecordingSession, Candidate]:
        # One recording bot per candidate, so concurrent replies never mix between candidates.
        known = self._bots.get(telegram_id)
        if known is None:
            bot, session = recording_bot()
            known = (bot, session, Candidate(telegram_id, first_name=f"Candidate {telegram_id}"))
            self._bots[telegram_id] = known
        return known

    async def submit(self, telegram_id: int, text: str) -> Outcome:
        """Send ``text`` as a message from ``telegram_id`` and classify the bot's replies."""
        assert self.dispatcher is not None
        bot, session, candidate = self._candidate(telegram_id)
        errors: list[str] = []
        token = _database_errors.set(errors)
        started = time.perf_counter()
        try:
            await self.dispatcher.feed_update(bot, candidate.text(text))
        except Exception as error:  # the error handler itself failed: report, keep loading
            session.take()
            return Outcome(
                f"exception:{type(error).__name__}",
                time.perf_counter() - started,
                detail=str(error)[:300],
            )
        finally:
            _database_errors.reset(token)
        seconds = time.perf_counter() - started
        replies = sent_texts(session.take())
        kind = classify_replies(replies, errors)
        detail = "" if kind == OK else " | ".join(reply[:120] for reply in replies)
        return Outcome(kind, seconds, detail=detail)
