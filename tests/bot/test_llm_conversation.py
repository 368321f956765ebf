"""The bot with the LLM assessor (fake provider): the reply and the database name the scorer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.llm import LLMAssessor, ProviderConfig
from bandwise.assessment.offline import OfflineAssessor
from bandwise.models import Assessment
from testkit.conversation import Conversation
from testkit.essays import TASK2_ESSAY
from testkit.fake_llm import FakeLLMServer, Reply, fake_llm_server, good_answer


@pytest.fixture
def provider() -> Iterator[FakeLLMServer]:
    with fake_llm_server() as server:
        yield server


@pytest.fixture
def llm_conversation(conversation: Conversation, provider: FakeLLMServer) -> Conversation:
    config = ProviderConfig(
        base_url=provider.url,
        api_key="k",
        model="test-model",
        timeout=1.0,
        max_retries=0,
        backoff_base=0.01,
    )
    conversation.runtime.assessor = FallbackAssessor(LLMAssessor(config), OfflineAssessor())
    return conversation


async def stored_assessor(conversation: Conversation) -> list[str]:
    async with conversation.runtime.sessions() as session:
        return list(await session.scalars(select(Assessment.assessor).order_by(Assessment.id)))


async def test_llm_scores_and_fallback_is_named(
    llm_conversation: Conversation, provider: FakeLLMServer
) -> None:
    sent = [m.text for m in await llm_conversation.say(TASK2_ESSAY) if isinstance(m, SendMessage)]
    assert "🎯 <b>Overall band: 6.5 (likely " in sent[-1]
    assert "Scored by the AI examiner (test-model)." in sent[-1]
    assert "“quoted evidence” for task_achievement" in sent[-1]

    provider.answer(Reply(status=500))
    other_essay = TASK2_ESSAY + "\n\nThis is why I hold this view."
    sent = [m.text for m in await llm_conversation.say(other_essay) if isinstance(m, SendMessage)]
    assert "Scored by the offline model" in sent[-1]
    assert await stored_assessor(llm_conversation) == ["llm:test-model", "offline"]


async def test_the_same_essay_gets_the_stored_result(
    llm_conversation: Conversation, provider: FakeLLMServer
) -> None:
    first = [m.text for m in await llm_conversation.say(TASK2_ESSAY) if isinstance(m, SendMessage)]
    provider.answer(Reply(content=good_answer((8.0, 8.0, 8.0, 8.0))))  # would differ if asked
    spaced = "  " + TASK2_ESSAY.replace(". ", ".  ") + "\n"
    again = [m.text for m in await llm_conversation.say(spaced) if isinstance(m, SendMessage)]
    assert again[-1] == first[-1]
    assert len(provider.requests) == 1
    assert await stored_assessor(llm_conversation) == ["llm:test-model", "llm:test-model"]


async def test_far_apart_scores_are_flagged_in_the_reply(
    llm_conversation: Conversation, provider: FakeLLMServer
) -> None:
    provider.answer(Reply(content=good_answer((9.0, 9.0, 9.0, 9.0))))
    sent = [m.text for m in await llm_conversation.say(TASK2_ESSAY) if isinstance(m, SendMessage)]
    assert "disagree by more than 1.5 bands" in sent[-1]
    async with llm_conversation.runtime.sessions() as session:
        flagged = list(await session.scalars(select(Assessment.flagged)))
    assert flagged == [True]
