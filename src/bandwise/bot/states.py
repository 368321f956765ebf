"""Conversation states of the submission flow."""

from aiogram.fsm.state import State, StatesGroup


class SubmissionStates(StatesGroup):
    """Waiting for the task question, for an essay of a chosen task, or for the task of an
    essay already sent."""

    waiting_for_question = State()
    waiting_for_essay = State()
    choosing_task = State()
