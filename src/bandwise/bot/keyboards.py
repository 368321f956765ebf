"""Inline keyboards and the callback data they carry."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bandwise.models import TaskType

SUBMIT_TASK_1 = "📄 Submit Writing Task 1"
SUBMIT_TASK_2 = "📝 Submit Writing Task 2"
CHECK_HISTORY = "📊 Check Band Score History"
GET_PRO = "⭐ Get Pro"

CB_SUBMIT = "submit:"  # followed by the task type value
CB_CHOOSE_TASK = "task:"  # followed by the task type value, for an essay already sent
CB_SKIP_QUESTION = "question:skip"
SKIP_QUESTION = "⏭ Skip the question"
CB_HISTORY = "history"
CB_BUY_PRO = "pro:buy"


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def main_menu() -> InlineKeyboardMarkup:
    """Return the three buttons of /start."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(SUBMIT_TASK_1, CB_SUBMIT + TaskType.TASK_1.value)],
            [_button(SUBMIT_TASK_2, CB_SUBMIT + TaskType.TASK_2.value)],
            [_button(CHECK_HISTORY, CB_HISTORY)],
        ]
    )


def choose_task() -> InlineKeyboardMarkup:
    """Return the buttons asking which task an essay answers."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("Task 1 (chart, process, map)", CB_CHOOSE_TASK + TaskType.TASK_1.value),
                _button("Task 2 (opinion essay)", CB_CHOOSE_TASK + TaskType.TASK_2.value),
            ]
        ]
    )


def after_result() -> InlineKeyboardMarkup:
    """Return the buttons under an assessment."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(SUBMIT_TASK_1, CB_SUBMIT + TaskType.TASK_1.value),
                _button(SUBMIT_TASK_2, CB_SUBMIT + TaskType.TASK_2.value),
            ],
            [_button(CHECK_HISTORY, CB_HISTORY)],
        ]
    )


def skip_question() -> InlineKeyboardMarkup:
    """Return the one button that skips the task question."""
    return InlineKeyboardMarkup(inline_keyboard=[[_button(SKIP_QUESTION, CB_SKIP_QUESTION)]])


def get_pro() -> InlineKeyboardMarkup:
    """Return the button that opens the Pro invoice."""
    return InlineKeyboardMarkup(inline_keyboard=[[_button(GET_PRO, CB_BUY_PRO)]])
