"""The bot with the LLM assessor (fake provider): the reply and the database name the scorer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.heuristic import HeuristicAssessor
from bandwise.assessment.llm import LLMAssessor, ProviderConfig
from bandwise.models import Assessment
from testkit.conversation import Conversation
from testkit.essays import TASK2_ESSAY
from testkit.fake_llm import FakeLLMServer, Reply, fake_llm_server


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
    conversation.runtime.assessor = FallbackAssessor(LLMAssessor(config), HeuristicAssessor())
    return conversation


async def stored_assessor(conversation: Conversation) -> list[str]:
    async with conversation.runtime.sessions() as session:
        return list(await session.scalars(select(Assessment.assessor).order_by(Assessment.id)))


async def test_llm_scores_and_fallback_is_named(
    llm_conversation: Conversation, provider: FakeLLMServer
) -> None:
    sent = [m.text for m in await llm_conversation.say(TASK2_ESSAY) if isinstance(m, SendMessage)]
    assert "🎯 <b>Overall band: 6.5</b>" in sent[-1]
    assert "Scored by the AI examiner (test-model)." in sent[-1]
    assert "“quoted evidence” for task_achievement" in sent[-1]

    provider.answer(Reply(status=500))
    sent = [m.text for m in await llm_conversation.say(TASK2_ESSAY) if isinstance(m, SendMessage)]
    assert "Scored by the offline heuristic assessor." in sent[-1]
    assert await stored_assessor(llm_conversation) == ["llm:test-model", "heuristic"]
