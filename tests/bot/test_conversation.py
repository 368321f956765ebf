"""Whole conversations through the real Dispatcher, on both engines."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.methods import SendChatAction, SendMessage, SendPhoto
from aiogram.types import InlineKeyboardMarkup, PhotoSize, Sticker
from sqlalchemy import func, select

from bandwise.assessment.offline import OfflineAssessor
from bandwise.assessment.types import AssessmentResult
from bandwise.bot import keyboards, texts
from bandwise.models import Assessment, RateLimit, Submission, TaskType
from testkit.conversation import Conversation
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY

SPANISH = (
    "Algunas personas creen que las universidades deberían centrarse en habilidades "
    "prácticas, mientras que otras piensan que el conocimiento académico es más importante. "
    "En mi opinión, ambos son importantes para los estudiantes y para la sociedad, y los "
    "gobiernos deberían apoyar a las universidades para que cooperen con las empresas."
)
# Neutral text: neither Task 1 nor Task 2 cues dominate, so the bot must ask.
UNCLEAR = " ".join(
    ["I walked to the old library on a quiet morning and read a long book about the river."] * 4
)


def buttons(markup: object) -> list[list[tuple[str, str | None]]]:
    assert isinstance(markup, InlineKeyboardMarkup)
    return [
        [(button.text, button.callback_data) for button in row] for row in markup.inline_keyboard
    ]


def texts_of(sent: list[object]) -> list[str]:
    return [method.text for method in sent if isinstance(method, SendMessage)]


async def count(conversation: Conversation, model: type) -> int:
    async with conversation.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_start_shows_greeting_and_three_buttons(conversation: Conversation) -> None:
    sent = await conversation.say("/start")
    assert len(sent) == 1 and isinstance(sent[0], SendMessage)
    assert sent[0].text == texts.greeting("Anna")
    assert buttons(sent[0].reply_markup) == [
        [("📄 Submit Writing Task 1", "submit:task_1")],
        [("📝 Submit Writing Task 2", "submit:task_2")],
        [("📊 Check Band Score History", "history")],
    ]
    help_sent = await conversation.say("/help")
    assert texts_of(help_sent) == [texts.help_text()]


async def test_task_2_submission_end_to_end(conversation: Conversation) -> None:
    asked = await conversation.press("submit:task_2")
    assert texts_of(asked) == [texts.ask_for_question(TaskType.TASK_2)]
    assert isinstance(asked[-1], SendMessage)
    assert buttons(asked[-1].reply_markup) == [[("⏭ Skip the question", "question:skip")]]
    asked = await conversation.press("question:skip")
    assert texts_of(asked) == [texts.ask_for_essay(TaskType.TASK_2)]
    assert texts.ask_for_essay(TaskType.TASK_2) == (
        "✍️ Send your <b>Writing Task 2</b> essay as one text message.\n"
        "<i>Task 2 asks for at least 250 words.</i>"
    )

    sent = await conversation.say(TASK2_ESSAY)
    expected = await OfflineAssessor().assess(TASK2_ESSAY, TaskType.TASK_2)
    assert isinstance(sent[0], SendMessage)
    assert sent[0].text == (
        "ℹ️ Your essay has 152 words, under the 250-word minimum for Task 2. "
        "This lowers the Task Achievement score."
    )
    assert isinstance(sent[1], SendChatAction) and sent[1].action == "typing"
    result = sent[2]
    assert isinstance(result, SendMessage)
    assert result.text == texts.assessment_result(expected, TaskType.TASK_2, 152)
    assert (
        f"🎯 <b>Overall band: {expected.overall:.1f} "
        f"(likely {expected.band_low:.1f}–{expected.band_high:.1f})</b>"
    ) in result.text
    for title in (
        "Task Achievement / Response",
        "Coherence and Cohesion",
        "Lexical Resource",
        "Grammatical Range and Accuracy",
    ):
        assert f"<b>{title}: " in result.text
    assert "Scored by the offline model" in result.text
    assert buttons(result.reply_markup)[-1] == [("📊 Check Band Score History", "history")]
    assert len(sent) == 3

    async with conversation.runtime.sessions() as session:
        submission = (await session.scalars(select(Submission))).one()
        assessment = (await session.scalars(select(Assessment))).one()
    assert submission.task_type is TaskType.TASK_2 and submission.word_count == 152
    assert assessment.assessor == "offline"
    assert assessment.overall_band_score == expected.overall


QUESTION = (
    "Some people believe that universities should focus on practical skills, while others "
    "think academic knowledge matters more. Discuss both views and give your opinion."
)


async def test_the_task_question_is_asked_scored_against_and_kept(
    conversation: Conversation,
) -> None:
    await conversation.press("submit:task_2")
    asked = await conversation.say(QUESTION)
    assert texts_of(asked) == [texts.ask_for_essay(TaskType.TASK_2)]
    sent = await conversation.say(TASK2_ESSAY)
    expected = await OfflineAssessor().assess(TASK2_ESSAY, TaskType.TASK_2, prompt=QUESTION)
    assert texts_of(sent)[-1] == texts.assessment_result(expected, TaskType.TASK_2, 152)
    assert "question&#x27;s key words" in texts_of(sent)[-1]  # HTML-escaped apostrophe
    async with conversation.runtime.sessions() as session:
        submission = (await session.scalars(select(Submission))).one()
        assessment = (await session.scalars(select(Assessment))).one()
    assert submission.prompt == QUESTION
    assert (assessment.band_low, assessment.band_high) == (expected.band_low, expected.band_high)
    history = texts_of(await conversation.press("history"))[0]
    assert f"(likely {expected.band_low:.1f}–{expected.band_high:.1f})" in history
    assert "Some people believe that universities" in history


async def test_an_essay_sent_instead_of_the_question_is_scored(
    conversation: Conversation,
) -> None:
    await conversation.press("submit:task_1")
    sent = await conversation.say(TASK1_ESSAY)
    assert "Overall band" in texts_of(sent)[-1]
    async with conversation.runtime.sessions() as session:
        submission = (await session.scalars(select(Submission))).one()
    assert submission.prompt is None and submission.task_type is TaskType.TASK_1


async def test_detected_task_needs_no_question(conversation: Conversation) -> None:
    sent = await conversation.say(TASK1_ESSAY)
    assert "IELTS Writing Task 1 — assessment" in texts_of(sent)[-1]


async def test_unclear_task_is_asked_with_buttons(conversation: Conversation) -> None:
    sent = await conversation.say(UNCLEAR)
    assert texts_of(sent) == [texts.ASK_TASK_TYPE]
    assert buttons(sent[0].reply_markup) == [
        [("Task 1 (chart, process, map)", "task:task_1"), ("Task 2 (opinion essay)", "task:task_2")]
    ]
    assert await count(conversation, Submission) == 0

    chosen = await conversation.press("task:task_1")
    assert "IELTS Writing Task 1 — assessment" in texts_of(chosen)[-1]
    async with conversation.runtime.sessions() as session:
        assert (await session.scalars(select(Submission))).one().task_type is TaskType.TASK_1

    stale = await conversation.press("task:task_1")
    assert stale[0].text == texts.TASK_CHOICE_EXPIRED  # AnswerCallbackQuery alert
    assert await count(conversation, Submission) == 1


async def test_validation_messages(conversation: Conversation) -> None:
    assert texts_of(await conversation.say("Hello, can you check my essay?")) == [
        "Your message has 6 words. Please send the complete essay — at least 50 words are "
        "needed for an assessment."
    ]
    assert texts_of(await conversation.say(SPANISH)) == [texts.NOT_ENGLISH]
    assert texts_of(await conversation.say("/frobnicate")) == [texts.UNKNOWN_COMMAND]
    photo = [PhotoSize(file_id="f", file_unique_id="u", width=10, height=10)]
    assert texts_of(await conversation.send(conversation.candidate.message(photo=photo))) == [
        texts.NON_TEXT
    ]
    sticker = Sticker(
        file_id="s",
        file_unique_id="su",
        type="regular",
        width=1,
        height=1,
        is_animated=False,
        is_video=False,
    )
    assert texts_of(await conversation.send(conversation.candidate.message(sticker=sticker))) == [
        texts.NON_TEXT
    ]
    long_essay = "\n\n".join([TASK2_ESSAY] * 7)
    sent = texts_of(await conversation.say(long_essay))
    assert sent[0] == texts.too_long_warning(1064)
    assert "IELTS Writing Task 2 — assessment" in sent[-1]
    assert await count(conversation, Submission) == 1


async def test_history_with_trend_and_chart(conversation: Conversation) -> None:
    assert texts_of(await conversation.press("history")) == [texts.NO_HISTORY]
    await conversation.say(TASK2_ESSAY)
    one = await conversation.say("/history")
    assert len(one) == 1 and "over 1 assessment" in one[0].text  # no chart for one point
    await conversation.say(TASK1_ESSAY)
    sent = await conversation.press("history")
    history_text = texts_of(sent)[0]
    assert history_text.startswith("<b>📊 Your band score history</b>")
    assert "Task 1 · 140 words" in history_text and "Task 2 · 152 words" in history_text
    assert "over 2 assessments" in history_text and "Change since first:" in history_text
    photos = [method for method in sent if isinstance(method, SendPhoto)]
    assert len(photos) == 1
    png = photos[0].photo.data  # type: ignore[union-attr]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


async def test_daily_limit_is_exact_through_the_bot(
    conversation: Conversation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    limit = conversation.runtime.settings.daily_submission_limit
    for _ in range(limit):
        assert "assessment" in texts_of(await conversation.say(TASK1_ESSAY))[-1]
    refused = await conversation.say(TASK1_ESSAY)
    message = texts_of(refused)[-1]
    assert message.startswith(
        f"You have used all {limit} free checks for today. Your limit resets at <b>"
    )
    assert "250 ⭐ for 30 days" in message
    assert buttons(refused[-1].reply_markup) == [[("⭐ Get Pro", keyboards.CB_BUY_PRO)]]
    assert await count(conversation, Submission) == limit
    async with conversation.runtime.sessions() as session:
        assert await session.scalar(select(RateLimit.submission_count)) == limit
    counters = conversation.dispatcher["counters"]
    assert counters.refused == {"message": 1} and counters.failed == {}
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_concurrent_essays_never_exceed_the_limit(conversation: Conversation) -> None:
    limit = conversation.runtime.settings.daily_submission_limit
    updates = [conversation.candidate.text(TASK1_ESSAY) for _ in range(limit + 3)]
    await asyncio.gather(
        *(conversation.dispatcher.feed_update(conversation.bot, update) for update in updates)
    )
    sent = texts_of(conversation.session.take())
    assert sum("— assessment" in text for text in sent) == limit
    assert sum(text.startswith("You have used all") for text in sent) == 3
    assert await count(conversation, Assessment) == limit


class SlowAssessor:
    """The offline assessor, slowed down so the processing notice shows."""

    name = "offline"

    def __init__(self) -> None:
        self.notice_sent = asyncio.Event()

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        await asyncio.wait_for(self.notice_sent.wait(), timeout=30)
        return await OfflineAssessor().assess(text, task_type)


async def test_processing_notice_when_scoring_is_slow(conversation: Conversation) -> None:
    conversation.runtime.settings.bot_processing_notice_seconds = 0.05
    assessor = SlowAssessor()
    conversation.runtime.assessor = assessor
    conversation.session.listener = lambda sent: (
        assessor.notice_sent.set() if getattr(sent, "text", None) == texts.PROCESSING else None
    )
    sent = await conversation.say(TASK1_ESSAY)
    kinds = [(type(method).__name__, getattr(method, "text", None)) for method in sent]
    assert kinds[1] == ("SendChatAction", None)
    assert ("SendMessage", texts.PROCESSING) in kinds
    assert kinds.index(("SendMessage", texts.PROCESSING)) < len(kinds) - 1  # before the result


async def test_maintenance_mode_is_explained(conversation: Conversation) -> None:
    flag: Path = conversation.runtime.settings.maintenance_flag_path
    flag.write_text("cutover")
    assert texts_of(await conversation.say(TASK1_ESSAY))[-1] == texts.MAINTENANCE
    assert await count(conversation, Submission) == 0


async def test_long_replies_are_split_under_the_limit() -> None:
    text = "\n".join(f"<b>line {n}</b> " + "x" * 90 for n in range(200))
    parts = texts.split_message(text)
    assert all(len(part) <= texts.TELEGRAM_MESSAGE_LIMIT for part in parts)
    assert "\n".join(parts) == text
    assert all(part.count("<b>") == part.count("</b>") for part in parts)
    assert texts.split_message("y" * 9000) == ["y" * 4096, "y" * 4096, "y" * 808]


def test_band_text_formats() -> None:
    assert texts.band(Decimal("7")) == "7.0" and texts.band(None) == "—"


async def test_unexpected_errors_get_a_generic_reply(conversation: Conversation) -> None:
    class BrokenAssessor:
        name = "broken"

        async def assess(
            self, text: str, task_type: TaskType, *, prompt: str | None = None
        ) -> AssessmentResult:
            raise RuntimeError("boom")

    conversation.runtime.assessor = BrokenAssessor()
    assert texts_of(await conversation.say(TASK1_ESSAY))[-1] == texts.SCORING_FAILED
    async with conversation.runtime.sessions() as session:
        statuses = list(await session.scalars(select(Submission.processing_status)))
        used = await session.scalar(select(RateLimit.submission_count))
    assert [status.value for status in statuses] == ["failed"] and used == 0  # check given back
    counters = conversation.dispatcher["counters"]
    assert counters.failed == {"message": 1}
