"""Over the daily limit the bot says so first: no word-count advice for an essay it refuses."""

from __future__ import annotations

from aiogram.methods import SendMessage

from testkit.conversation import Conversation
from testkit.essays import TASK2_ESSAY


async def test_the_limit_is_said_before_any_word_count_note(conversation: Conversation) -> None:
    await conversation.press("submit:task_2")
    limit = conversation.runtime.settings.daily_submission_limit
    for _ in range(limit):
        await conversation.press("submit:task_2")
        sent = await conversation.say(TASK2_ESSAY)  # 152 words: under the Task 2 minimum
        first = sent[0]
        assert isinstance(first, SendMessage) and "under the 250-word minimum" in first.text
    await conversation.press("submit:task_2")
    refused = [
        item for item in await conversation.say(TASK2_ESSAY) if isinstance(item, SendMessage)
    ]
    assert len(refused) == 1, [item.text for item in refused]
    assert refused[0].text.startswith(f"You have used all {limit} free checks for today.")
