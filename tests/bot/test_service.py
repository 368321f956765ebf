"""The bot inside a process: webhook route with its secret, polling, Redis FSM storage, stop."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiogram.methods import DeleteWebhook, GetMe, SendMessage, SetWebhook
from pydantic import SecretStr
from sqlalchemy import select

from bandwise.api.app import create_app
from bandwise.assessment.offline import OfflineAssessor
from bandwise.bot import texts
from bandwise.bot.dispatcher import build_dispatcher, build_storage
from bandwise.bot.link import LinkState
from bandwise.bot.service import BotMode, BotService, start_bot_service
from bandwise.config import check_webhook_settings, load_settings
from bandwise.errors import ConfigurationError
from bandwise.models import RateLimit, Submission, TaskType
from bandwise.runtime import Runtime
from testkit.essays import TASK2_ESSAY
from testkit.service import subprocess_env
from testkit.telegram import Candidate, recording_bot

REDIS_URL = "redis://127.0.0.1:6379/15"
SECRET = "s3cr3t-webhook-token"


async def test_webhook_route_verifies_the_secret_and_feeds_the_dispatcher(runtime: Runtime) -> None:
    runtime.settings.webhook_url = "https://bot.example.org/telegram/webhook"
    runtime.settings.webhook_secret = SecretStr(SECRET)
    bot, session = recording_bot()
    service = await start_bot_service(runtime, bot)
    assert service.mode is BotMode.WEBHOOK
    await service.wait_connected(timeout=10)
    registered = session.take()
    assert isinstance(registered[0], SetWebhook)
    assert registered[0].url == "https://bot.example.org/telegram/webhook"
    assert registered[0].secret_token == SECRET
    assert "pre_checkout_query" in (registered[0].allowed_updates or [])

    app = create_app(runtime.settings, runtime)
    update = Candidate().text("/start").model_dump(mode="json", exclude_none=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        missing = await client.post("/telegram/webhook", json=update)
        wrong = await client.post(
            "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        garbage = await client.post(
            "/telegram/webhook",
            json={"update_id": "x"},
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        good = await client.post(
            "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert (missing.status_code, wrong.status_code, garbage.status_code) == (401, 401, 422)
    assert good.status_code == 200 and good.json() == {"ok": True}
    assert service.rejected_posts == {"missing_secret": 1, "wrong_secret": 1, "invalid_update": 1}
    # Telegram's answer waited for the handling: the greeting was sent before it.
    sent = session.take()
    assert [m.text for m in sent if isinstance(m, SendMessage)] == [texts.greeting("Anna")]
    await service.stop()


async def test_a_webhook_update_past_the_ack_bound_is_answered_and_goes_on(
    runtime: Runtime,
) -> None:
    """Scoring slower than BOT_WEBHOOK_ACK_SECONDS: Telegram gets 200, the update keeps going."""
    scoring, release = asyncio.Event(), asyncio.Event()

    class SlowAssessor:
        name = "slow"

        async def assess(self, text: str, task_type: TaskType, *, prompt: str | None = None) -> Any:
            scoring.set()
            await release.wait()
            return await OfflineAssessor().assess(text, task_type, prompt=prompt)

    runtime.assessor = SlowAssessor()
    runtime.settings.webhook_url = "https://bot.example.org/telegram/webhook"
    runtime.settings.webhook_secret = SecretStr(SECRET)
    runtime.settings.bot_webhook_ack_seconds = 0.5
    bot, _ = recording_bot()
    service = await start_bot_service(runtime, bot)
    await service.wait_connected(timeout=10)
    app = create_app(runtime.settings, runtime)
    essay = Candidate(telegram_id=5252).text(TASK2_ESSAY)
    update = essay.model_dump(mode="json", exclude_none=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        answer = await client.post(
            "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert answer.status_code == 200  # answered while the scoring cannot have finished
    await asyncio.wait_for(scoring.wait(), 30)
    release.set()
    await service.drain()
    await service.stop()
    async with runtime.sessions() as db:
        statuses = list(await db.scalars(select(Submission.processing_status)))
    assert [status.value for status in statuses] == ["completed"]


async def test_polling_handles_updates_and_stops_gracefully(runtime: Runtime) -> None:
    replied = asyncio.Event()
    bot, session = recording_bot(
        lambda sent: replied.set() if isinstance(sent, SendMessage) else None
    )
    service = await start_bot_service(runtime, bot)
    assert service.mode is BotMode.POLLING
    session.deliver(Candidate().text("/help"))
    await asyncio.wait_for(replied.wait(), timeout=30)
    await service.stop()
    sent = session.take()
    assert [type(m) for m in sent[:2]] == [GetMe, DeleteWebhook]
    assert [m.text for m in sent if isinstance(m, SendMessage)] == [texts.help_text()]


def test_webhook_mode_needs_a_secret_and_https() -> None:
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET"):
        check_webhook_settings(load_settings(webhook_url="https://x.example/hook"))
    with pytest.raises(ConfigurationError, match="https"):
        check_webhook_settings(
            load_settings(webhook_url="http://x.example/hook", webhook_secret="another-secret")
        )


@pytest.mark.system_tools  # a Redis server
async def test_fsm_state_is_shared_through_redis(runtime: Runtime) -> None:
    """Two instances (two Dispatchers) share the conversation state through Redis."""
    import redis.asyncio as aioredis

    probe = aioredis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except Exception as error:
        pytest.fail(f"this test needs Redis at {REDIS_URL}: {error}")
    finally:
        await probe.aclose()
    runtime.settings.redis_url = SecretStr(REDIS_URL)
    candidate = Candidate(telegram_id=int(uuid.uuid4().int % 10**9) + 10**9)
    first_storage, second_storage = build_storage(runtime.settings), build_storage(runtime.settings)
    assert type(first_storage).__name__ == "RedisStorage"
    first, second = (
        build_dispatcher(runtime, first_storage),
        build_dispatcher(runtime, second_storage),
    )
    bot, session = recording_bot()
    try:
        await first.feed_update(bot, candidate.press("submit:task_1"))
        # The essay reads like Task 2, but the task chosen on instance one must win on instance two.
        await second.feed_update(bot, candidate.text(TASK2_ESSAY))
        replies = [m.text for m in session.take() if isinstance(m, SendMessage)]
        assert texts.ask_for_question(TaskType.TASK_1) in replies
        assert "IELTS Writing Task 1 — assessment" in replies[-1]
    finally:
        await first_storage.close()
        await second_storage.close()


async def test_webhook_route_is_closed_without_a_webhook_bot(runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.post(
            "/telegram/webhook", json={}, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 404


def test_bot_command_needs_a_token(bandwise_executable: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [bandwise_executable, "bot", "run"],
        env=subprocess_env(DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BOT_TOKEN: not set" in result.stderr


async def test_unreachable_telegram_is_retried_and_stop_is_clean(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    bot, session = recording_bot()
    calls = 0
    third_attempt = asyncio.Event()

    async def unreachable(*_args: object, **_kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls >= 3:
            third_attempt.set()
        raise ConnectionError("telegram unreachable")

    session.make_request = unreachable  # type: ignore[method-assign]
    service = BotService(runtime, bot, build_dispatcher(runtime))
    service.retry_first_delay = service.retry_max_delay = 0.01
    await service.start()
    await asyncio.wait_for(third_attempt.wait(), 30)
    assert not service.connected.is_set()
    assert service.link.failures >= 3 and "telegram unreachable" in (service.link.last_error or "")
    await service.stop()
    assert service.link.state() is LinkState.STOPPED
    assert "connecting to the Telegram Bot API failed (attempt 1)" in caplog.text
    assert "connecting to the Telegram Bot API failed (attempt 2)" in caplog.text


async def test_an_update_past_the_grace_period_gives_its_check_back(runtime: Runtime) -> None:
    """Scoring that cannot finish before the stop is cancelled: check refunded, candidate told."""
    scoring = asyncio.Event()

    class StuckAssessor:
        name = "stuck"

        async def assess(self, text: str, task_type: TaskType, *, prompt: str | None = None) -> Any:
            scoring.set()
            await asyncio.Event().wait()  # never answers

    runtime.assessor = StuckAssessor()
    runtime.settings.webhook_url = "https://bot.example.org/telegram/webhook"
    runtime.settings.webhook_secret = SecretStr(SECRET)
    bot, session = recording_bot()
    service = await start_bot_service(runtime, bot)
    await service.wait_connected(timeout=10)
    service.accept_webhook_update(
        Candidate(telegram_id=5151).text(TASK2_ESSAY).model_dump(mode="json", exclude_none=True)
    )
    await asyncio.wait_for(scoring.wait(), 30)
    await service.drain(timeout=0)
    await service.stop()
    replies = [m.text for m in session.take() if isinstance(m, SendMessage)]
    assert replies[-1] == texts.INTERRUPTED
    async with runtime.sessions() as db:
        statuses = list(await db.scalars(select(Submission.processing_status)))
        used = await db.scalar(select(RateLimit.submission_count))
    assert [status.value for status in statuses] == ["failed"] and used == 0
