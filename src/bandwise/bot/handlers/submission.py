"""The submission flow: choose a task (or let it be detected), send the essay, get the result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, User

from bandwise.bot import keyboards, texts
from bandwise.bot.progress import scoring_feedback
from bandwise.bot.states import SubmissionStates
from bandwise.models import TaskType
from bandwise.runtime import Runtime
from bandwise.services.limits import ensure_check_left
from bandwise.services.precheck import EssayPrecheck, precheck_essay
from bandwise.services.submissions import EssayRequest, submit_essay

PENDING_TEXT = "pending_text"
CHOSEN_TASK = "task_type"
QUESTION = "question"
# A message this long sent when the question is asked is the essay itself (questions are
# well under 100 words): score it rather than take it for the question.
MIN_ESSAY_WORDS_FOR_QUESTION_STEP = 120
REPLY_TIMEOUT = 5.0  # the last word to a candidate while the process stops


async def choose_task_first(callback: CallbackQuery, state: FSMContext) -> None:
    """Remember the chosen task and ask for the task question (one tap skips it)."""
    task_type = TaskType(str(callback.data).removeprefix(keyboards.CB_SUBMIT))
    await state.set_state(SubmissionStates.waiting_for_question)
    await state.set_data({CHOSEN_TASK: task_type.value})
    await callback.answer()
    if callback.message is not None:
        await callback.message.answer(
            texts.ask_for_question(task_type), reply_markup=keyboards.skip_question()
        )


async def receive_question(message: Message, state: FSMContext, bot: Bot, runtime: Runtime) -> None:
    """Keep the task question and ask for the essay (a whole essay sent here is scored)."""
    text = message.text or ""
    if precheck_essay(text).word_count >= MIN_ESSAY_WORDS_FOR_QUESTION_STEP:
        await receive_essay(message, state, bot, runtime)
        return
    await _ask_for_essay(message, state, question=text.strip() or None)


async def skip_question(callback: CallbackQuery, state: FSMContext) -> None:
    """Go on to the essay without a task question."""
    await callback.answer()
    if isinstance(callback.message, Message):
        await _ask_for_essay(callback.message, state, question=None)


async def _ask_for_essay(message: Message, state: FSMContext, question: str | None) -> None:
    chosen = (await state.get_data()).get(CHOSEN_TASK)
    if chosen is None:
        await message.answer(texts.TASK_CHOICE_EXPIRED)
        return
    await state.set_state(SubmissionStates.waiting_for_essay)
    await state.update_data({QUESTION: question})
    await message.answer(texts.ask_for_essay(TaskType(chosen)))


async def receive_essay(message: Message, state: FSMContext, bot: Bot, runtime: Runtime) -> None:
    """Check the essay, ask for the task when unclear, otherwise score it."""
    text = message.text or ""
    check = precheck_essay(text)
    if check.not_english:
        await message.answer(texts.NOT_ENGLISH)
        return
    if check.too_short:
        await message.answer(texts.too_short(check.word_count))
        return
    data = await state.get_data()
    chosen = data.get(CHOSEN_TASK)
    question = data.get(QUESTION)
    if chosen is None and not check.task_guess.confident:
        await state.set_state(SubmissionStates.choosing_task)
        await state.set_data({PENDING_TEXT: text})
        await message.answer(texts.ASK_TASK_TYPE, reply_markup=keyboards.choose_task())
        return
    task_type = TaskType(chosen) if chosen else check.task_guess.task_type
    await _score(message, state, bot, runtime, text, task_type, message.from_user, check, question)


async def task_chosen(
    callback: CallbackQuery, state: FSMContext, bot: Bot, runtime: Runtime
) -> None:
    """Score the essay that was waiting for its task type."""
    await callback.answer()
    text = (await state.get_data()).get(PENDING_TEXT)
    message = callback.message
    if not isinstance(message, Message):
        return
    if not text:
        await message.answer(texts.TASK_CHOICE_EXPIRED)
        return
    task_type = TaskType(str(callback.data).removeprefix(keyboards.CB_CHOOSE_TASK))
    await _score(
        message, state, bot, runtime, text, task_type, callback.from_user, precheck_essay(text)
    )


async def stale_task_choice(callback: CallbackQuery) -> None:
    """Answer a task button pressed after its essay was already handled."""
    await callback.answer(texts.TASK_CHOICE_EXPIRED, show_alert=True)


async def _score(
    message: Message,
    state: FSMContext,
    bot: Bot,
    runtime: Runtime,
    text: str,
    task_type: TaskType,
    user: User | None,
    check: EssayPrecheck,
    question: str | None = None,
) -> None:
    settings = runtime.settings
    async with runtime.write_guard():  # refuses during maintenance, counts the update in flight
        telegram_id = user.id if user is not None else message.chat.id
        if check.too_long or check.under_task_minimum(task_type):  # the limit speaks first
            await ensure_check_left(runtime.sessions, runtime.policy, telegram_id)
        if check.too_long:
            await message.answer(texts.too_long_warning(check.word_count))
        if check.under_task_minimum(task_type):
            await message.answer(texts.under_minimum_note(check.word_count, task_type))
        await state.clear()
        async with (
            _interruption_reply(message),
            scoring_feedback(bot, message.chat.id, settings.bot_processing_notice_seconds),
        ):
            outcome = await submit_essay(
                runtime.sessions,
                runtime.assessor,
                runtime.policy,
                EssayRequest(
                    telegram_id=telegram_id,
                    text=text,
                    task_type=task_type,
                    username=user.username if user else None,
                    first_name=user.first_name if user else None,
                    prompt=question,
                ),
                retry_attempts=settings.db_retry_attempts,
                allow_unsaved=True,
            )
    parts = texts.split_message(
        texts.assessment_result(outcome.result, outcome.task_type, outcome.word_count)
    )
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await message.answer(part, reply_markup=keyboards.after_result() if last else None)
    if not outcome.saved:
        await message.answer(texts.NOT_SAVED)


@asynccontextmanager
async def _interruption_reply(message: Message) -> AsyncIterator[None]:
    """Tell the candidate when a stop cancels scoring (the service already gave the check back)."""
    try:
        yield
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(message.answer(texts.INTERRUPTED)), REPLY_TIMEOUT)
        raise


def build_router() -> Router:
    """Return a new router with this module's handlers (one per dispatcher)."""
    router = Router(name="submission")
    router.callback_query.register(choose_task_first, F.data.startswith(keyboards.CB_SUBMIT))
    router.callback_query.register(skip_question, F.data == keyboards.CB_SKIP_QUESTION)
    router.message.register(
        receive_question, SubmissionStates.waiting_for_question, F.text, ~F.text.startswith("/")
    )
    router.message.register(receive_essay, F.text, ~F.text.startswith("/"))
    router.callback_query.register(
        task_chosen, SubmissionStates.choosing_task, F.data.startswith(keyboards.CB_CHOOSE_TASK)
    )
    router.callback_query.register(stale_task_choice, F.data.startswith(keyboards.CB_CHOOSE_TASK))
    return router
