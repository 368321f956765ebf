"""The processes as an operator runs them: graceful stop, a Telegram that is away, start-up.

`bandwise serve` and `bandwise bot run` run as child processes against a fake Telegram Bot
API (``TELEGRAM_API_URL``) and a slow fake LLM on loopback; the tests send real signals and
wait on what the fakes see, never on clocks.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.essays import TASK2_ESSAY
from testkit.fake_llm import FakeLLMServer, Reply, fake_llm_server, good_answer
from testkit.fake_telegram import FakeTelegram, fake_telegram
from testkit.service import ServiceProcess, bandwise_command, clean_environment
from testkit.telegram import Candidate

pytestmark = pytest.mark.slow  # each test starts `bandwise` as a child process

BOT_TOKEN = "123456:TEST-token-for-the-fake-bot-api"
SECRET = "lifecycle-webhook-secret"
WEBHOOK_PATH = "/telegram/webhook"
SCORING_SECONDS = 3.0  # the fake provider's delay: the signal arrives while it scores
EXIT_TIMEOUT = 60.0
START_TIMEOUT = 180.0  # a loaded machine imports aiogram slowly: a bound, not a wait
ASSESSED = "assessment"

pytestmark = pytest.mark.slow  # every test starts `bandwise serve` or `bandwise bot run`


@pytest.fixture
def slow_llm() -> Iterator[FakeLLMServer]:
    """Yield a provider that answers correctly after SCORING_SECONDS."""
    with fake_llm_server() as server:
        server.answer(Reply(content=good_answer(), delay=SCORING_SECONDS))
        yield server


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """Yield a fake Bot API server."""
    with fake_telegram() as server:
        yield server


def _settings(tmp_path: Path, llm: FakeLLMServer, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bandwise.db'}",
        "MAINTENANCE_FLAG_PATH": str(tmp_path / "maintenance.flag"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "AI_API_KEY": "test-key",
        "AI_BASE_URL": llm.url,
        "AI_MODEL": "test-model",
        "AI_TIMEOUT": "30",
        "AI_MAX_RETRIES": "0",
        "SHUTDOWN_GRACE_SECONDS": "60",
        "BOT_PROCESSING_NOTICE_SECONDS": "30",
        **extra,
    }


def _bot_settings(telegram: FakeTelegram, **extra: str) -> dict[str, str]:
    return {"BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": telegram.url, **extra}


def _essay_update() -> dict[str, Any]:
    return Candidate(telegram_id=4242).text(TASK2_ESSAY).model_dump(mode="json", exclude_none=True)


def _stop_and_wait(service: ServiceProcess) -> int:
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    return service.wait_exit(EXIT_TIMEOUT)


def _readiness(service: ServiceProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{service.base_url}/health/ready", timeout=10)
    return response.status_code, response.json()


def _wait_live(service: ServiceProcess) -> None:
    """Wait for the HTTP port (readiness may rightly say 503 meanwhile)."""
    with httpx.Client(timeout=2) as client:
        for _ in range(int(START_TIMEOUT / 0.05)):
            if service.process is not None and service.process.poll() is not None:
                raise AssertionError(f"serve exited:\n{service.log_text()[-3000:]}")
            try:
                if client.get(f"{service.base_url}/health/live").status_code == 200:
                    return
            except httpx.HTTPError:
                threading.Event().wait(0.05)  # the port is not open yet
    raise AssertionError(f"serve never listened:\n{service.log_text()[-3000:]}")


def _wait_ready_state(service: ServiceProcess, wanted: int) -> dict[str, Any]:
    """Wait until /health/ready answers ``wanted`` (the bot's state changes in the child)."""
    body: dict[str, Any] = {}
    for _ in range(600):
        status, body = _readiness(service)
        if status == wanted:
            return body
        threading.Event().wait(0.05)
    raise AssertionError(f"readiness never became {wanted}: {body}")


def test_sigterm_during_an_http_submission_finishes_it(
    tmp_path: Path, slow_llm: FakeLLMServer
) -> None:
    with ServiceProcess(_settings(tmp_path, slow_llm)) as service:
        service.wait_ready(START_TIMEOUT)
        answers: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{service.base_url}/api/v1/submissions",
                    json={"telegram_id": 77, "text": TASK2_ESSAY},
                    timeout=EXIT_TIMEOUT,
                )
            )
        )
        request.start()
        slow_llm.wait_for_requests(1)
        code = _stop_and_wait(service)
        request.join(EXIT_TIMEOUT)
    assert code == 0, service.log_text()[-3000:]
    assert answers and answers[0].status_code == 201, answers
    assert answers[0].json()["saved"] is True
    assert "SIGTERM received" in service.log_text()


def test_sigterm_during_a_webhook_update_answers_the_candidate(
    tmp_path: Path, slow_llm: FakeLLMServer, telegram: FakeTelegram
) -> None:
    settings = _settings(
        tmp_path,
        slow_llm,
        **_bot_settings(
            telegram,
            WEBHOOK_URL="https://bot.example.org/telegram/webhook",
            WEBHOOK_SECRET=SECRET,
        ),
    )
    with ServiceProcess(settings) as service:
        telegram.wait_for(lambda calls: any(c.method == "setWebhook" for c in calls), START_TIMEOUT)
        service.wait_ready(START_TIMEOUT)
        posted = httpx.post(
            f"{service.base_url}{WEBHOOK_PATH}",
            json=_essay_update(),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            timeout=10,
        )
        assert posted.status_code == 200
        slow_llm.wait_for_requests(1)
        code = _stop_and_wait(service)
    assert code == 0, service.log_text()[-3000:]
    assert any(ASSESSED in text for text in telegram.sent_texts()), telegram.sent_texts()


def test_sigterm_while_polling_finishes_the_update(
    tmp_path: Path, slow_llm: FakeLLMServer, telegram: FakeTelegram
) -> None:
    env = clean_environment(
        {"LOG_LEVEL": "INFO", **_settings(tmp_path, slow_llm, **_bot_settings(telegram))}
    )
    log_path = tmp_path / "bot.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*bandwise_command(), "bot", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        telegram.wait_for(lambda calls: any(c.method == "getUpdates" for c in calls), START_TIMEOUT)
        telegram.queue_update(_essay_update())
        slow_llm.wait_for_requests(1)
        process.send_signal(signal.SIGTERM)
        code = process.wait(EXIT_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0, log_path.read_text()[-3000:]
    assert any(ASSESSED in text for text in telegram.sent_texts()), telegram.sent_texts()


def test_bot_run_exits_non_zero_when_telegram_never_answers(
    tmp_path: Path, slow_llm: FakeLLMServer, telegram: FakeTelegram
) -> None:
    telegram.set_down(True)
    env = clean_environment(
        _settings(tmp_path, slow_llm, **_bot_settings(telegram, BOT_STARTUP_SECONDS="2"))
    )
    result = subprocess.run(
        [*bandwise_command(), "bot", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "could not reach the Telegram Bot API" in result.stderr
    assert "connecting to the Telegram Bot API failed (attempt 1)" in result.stderr


def test_a_bot_without_telegram_is_visible_and_comes_back(
    tmp_path: Path, slow_llm: FakeLLMServer, telegram: FakeTelegram
) -> None:
    """Polling in `serve`: Telegram away → readiness 503 and metrics say so; back → 200."""
    telegram.set_down(True)
    settings = _settings(tmp_path, slow_llm, **_bot_settings(telegram, BOT_STARTUP_SECONDS="1"))
    with ServiceProcess(settings) as service:
        _wait_live(service)
        telegram.wait_for(
            lambda calls: len(calls) >= 3, START_TIMEOUT
        )  # retried: 1 s then 2 s apart
        body = _wait_ready_state(service, 503)
        assert body["checks"]["bot"]["ok"] is False
        assert "down" in body["checks"]["bot"]["detail"]
        metrics = httpx.get(f"{service.base_url}/metrics", timeout=10).text
        assert "bandwise_bot_up 0.0" in metrics
        assert 'bandwise_bot_state{state="down"} 1.0' in metrics

        telegram.set_down(False)
        body = _wait_ready_state(service, 200)
        assert body["checks"]["bot"] == {"ok": True, "detail": "polling, up", "seconds": 0.0}
        assert "bandwise_bot_up 1.0" in httpx.get(f"{service.base_url}/metrics", timeout=10).text
        assert _stop_and_wait(service) == 0
    log = service.log_text()
    assert "connecting to the Telegram Bot API failed (attempt 2)" in log


def test_webhook_mode_serves_http_without_telegram_and_registers_later(
    tmp_path: Path, slow_llm: FakeLLMServer, telegram: FakeTelegram
) -> None:
    telegram.set_down(True)
    settings = _settings(
        tmp_path,
        slow_llm,
        **_bot_settings(
            telegram,
            WEBHOOK_URL="https://bot.example.org/telegram/webhook",
            WEBHOOK_SECRET=SECRET,
            BOT_STARTUP_SECONDS="1",
        ),
    )
    with ServiceProcess(settings) as service:
        _wait_live(service)
        telegram.wait_for(
            lambda calls: len([c for c in calls if c.method == "setWebhook"]) >= 2, START_TIMEOUT
        )
        body = _wait_ready_state(service, 503)
        assert "webhook not registered" in body["checks"]["bot"]["detail"]
        rejected = httpx.post(
            f"{service.base_url}{WEBHOOK_PATH}",
            json=_essay_update(),
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            timeout=10,
        )
        assert rejected.status_code == 401

        telegram.set_down(False)
        body = _wait_ready_state(service, 200)
        assert body["checks"]["bot"]["detail"] == "webhook, up, webhook registered"
        metrics = httpx.get(f"{service.base_url}/metrics", timeout=10).text
        assert "bandwise_bot_webhook_registered 1.0" in metrics
        assert 'bandwise_bot_webhook_rejected_total{reason="wrong_secret"} 1.0' in metrics
        assert _stop_and_wait(service) == 0
    registered = telegram.calls_of("setWebhook")[-1].params
    assert registered["secret_token"] == SECRET
    assert "webhook post rejected: wrong secret" in service.log_text()
    assert "Traceback" not in service.log_text()
