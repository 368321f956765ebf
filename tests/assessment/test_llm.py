"""The LLM assessor against a local fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bandwise.assessment.breaker import BreakerState, CircuitBreaker
from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.llm import LLMAssessor, ProviderConfig
from bandwise.assessment.offline import OfflineAssessor
from bandwise.errors import InvalidAssessment, ProviderUnavailable
from bandwise.models import TaskType
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY
from testkit.fake_llm import FakeLLMServer, Reply, fake_llm_server, good_answer


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with fake_llm_server() as running:
        yield running


def make_assessor(server: FakeLLMServer, **overrides: object) -> LLMAssessor:
    options: dict[str, object] = {
        "base_url": server.url,
        "api_key": "test-key",
        "model": "test-model",
        "timeout": 2.0,
        "max_retries": 2,
        "backoff_base": 0.01,
        "breaker_threshold": 3,
    }
    options.update(overrides)
    return LLMAssessor(ProviderConfig(**options))  # type: ignore[arg-type]


async def test_good_answer_is_parsed_and_prompt_is_task_specific(server: FakeLLMServer) -> None:
    assessor = make_assessor(server)
    result = await assessor.assess(TASK1_ESSAY, TaskType.TASK_1)
    assert [str(result.criteria[name].band) for name in result.criteria] == [
        "6.5",
        "6.0",
        "7.0",
        "6.5",
    ]
    assert str(result.overall) == "6.5"
    assert result.assessor == "llm:test-model"
    assert result.suggestions == ["Suggestion 1", "Suggestion 2", "Suggestion 3"]
    request = server.requests[0]
    assert request["model"] == "test-model"
    assert request["response_format"] == {"type": "json_object"}
    system = request["messages"][0]["content"]
    assert "Writing Task 1" in system and "overview" in system
    assert TASK1_ESSAY in request["messages"][1]["content"]
    headers = {key.lower(): value for key, value in server.headers[0].items()}
    assert headers["authorization"] == "Bearer test-key"
    assert headers["x-title"] == "bandwise" and "http-referer" in headers

    await assessor.assess(TASK2_ESSAY, TaskType.TASK_2)
    assert "Writing Task 2" in server.requests[1]["messages"][0]["content"]
    await assessor.close()


async def test_fenced_json_is_accepted(server: FakeLLMServer) -> None:
    server.answer(Reply(content="```json\n" + good_answer() + "\n```"))
    result = await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert str(result.overall) == "6.5"


async def test_malformed_json_gets_one_repair(server: FakeLLMServer) -> None:
    server.answer(Reply(content="{not json"), Reply(content=good_answer()))
    result = await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert str(result.overall) == "6.5"
    assert len(server.requests) == 2
    repair = server.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "{not json"}
    assert "not valid JSON" in repair[-1]["content"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (good_answer(bands=(9.5, 6.0, 7.0, 6.5)), "criteria.task_achievement.band"),
        (good_answer(bands=(6.25, 6.0, 7.0, 6.5)), "not a whole or half band"),
        (good_answer(suggestions=2), "suggestions has 2 items"),
        (good_answer(suggestions=6), "suggestions has 6 items"),
        (json.dumps({"criteria": {}}), "criteria.task_achievement is missing"),
    ],
)
async def test_invalid_answers_fail_after_one_repair(
    server: FakeLLMServer, answer: str, problem: str
) -> None:
    server.answer(Reply(content=answer))
    with pytest.raises(InvalidAssessment, match="after one repair") as raised:
        await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert problem in str(raised.value)
    assert len(server.requests) == 2  # the answer and exactly one repair


async def test_empty_justification_is_invalid(server: FakeLLMServer) -> None:
    document = json.loads(good_answer())
    document["criteria"]["lexical_resource"]["justification"] = "  "
    server.answer(Reply(content=json.dumps(document)))
    with pytest.raises(InvalidAssessment, match=r"lexical_resource\.justification"):
        await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)


async def test_429_then_success_is_retried(server: FakeLLMServer) -> None:
    server.answer(Reply(status=429), Reply(status=503), Reply(content=good_answer()))
    result = await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert str(result.overall) == "6.5"
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried(server: FakeLLMServer) -> None:
    server.answer(Reply(status=401))
    with pytest.raises(ProviderUnavailable, match="HTTP 401"):
        await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert len(server.requests) == 1


async def test_500s_open_the_breaker_and_fallback_scores(server: FakeLLMServer) -> None:
    server.answer(Reply(status=500))
    llm = make_assessor(server, max_retries=1, breaker_threshold=2)
    assessor = FallbackAssessor(llm, OfflineAssessor())
    for _ in range(2):
        result = await assessor.assess(TASK2_ESSAY, TaskType.TASK_2)
        assert result.assessor == "offline"
    assert len(server.requests) == 4  # two calls × (one try + one retry)
    assert llm.breaker.state is BreakerState.OPEN
    result = await assessor.assess(TASK2_ESSAY, TaskType.TASK_2)
    assert result.assessor == "offline"
    assert len(server.requests) == 4  # open breaker: the provider was not called


async def test_slow_response_times_out_and_falls_back(server: FakeLLMServer) -> None:
    server.answer(Reply(content=good_answer(), delay=1.5))
    llm = make_assessor(server, timeout=0.3, max_retries=0)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await llm.assess(TASK2_ESSAY, TaskType.TASK_2)
    result = await FallbackAssessor(llm, OfflineAssessor()).assess(TASK2_ESSAY, TaskType.TASK_2)
    assert result.assessor == "offline"


def test_breaker_half_opens_after_the_reset_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after=10, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allow()
    breaker.record_failure()  # the trial failed: open again
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


async def test_the_question_and_band_descriptors_reach_the_model(server: FakeLLMServer) -> None:
    question = "Should universities teach practical skills? Discuss both views."
    await make_assessor(server).assess(TASK2_ESSAY, TaskType.TASK_2, prompt=question)
    request = server.requests[0]
    assert request["temperature"] == 0
    assert "What the bands mean" in request["messages"][0]["content"]
    assert question in request["messages"][1]["content"]


async def test_disagreement_with_the_offline_model_is_flagged_logged_and_counted(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    from bandwise import events
    from bandwise.ops.monitoring import metrics

    metrics._install_retry_hooks()  # what the app does at start: events feed /metrics

    seen: list[str] = []
    events.subscribe(events.ScoresDisagreed, lambda event: seen.append(event.assessor))
    assessor = FallbackAssessor(make_assessor(server), OfflineAssessor())
    agreeing = await assessor.assess(TASK2_ESSAY, TaskType.TASK_2)
    assert agreeing.flagged is False and seen == []
    assert agreeing.band_low is not None and agreeing.band_high is not None
    assert agreeing.band_low <= agreeing.overall <= agreeing.band_high
    server.answer(Reply(content=good_answer((9.0, 9.0, 9.0, 9.0))))
    counter = metrics.APPLICATION.disagreements.labels(metrics.safe_label("llm:test-model"))
    before = counter._value.get()
    record = await assessor.assess(TASK2_ESSAY, TaskType.TASK_2)
    assert record.flagged is True and seen == ["llm:test-model"]
    assert "result flagged" in caplog.text
    assert counter._value.get() == before + 1


async def test_garbage_is_not_sent_to_the_model(server: FakeLLMServer) -> None:
    server.answer(Reply(content=good_answer((8.0, 8.0, 8.0, 8.0))))
    assessor = FallbackAssessor(make_assessor(server), OfflineAssessor())
    result = await assessor.assess("the " * 300, TaskType.TASK_2)
    assert result.assessor == "offline" and result.overall <= 4
    assert server.requests == []
