"""The HTTP API over both engines: health, submissions, history, errors, the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from bandwise.api.app import create_app
from bandwise.runtime import Runtime
from testkit.essays import SHORT_TEXT, TASK2_ESSAY


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime.settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bandwise.test") as client:
        yield client


async def test_health_endpoints(client: httpx.AsyncClient, runtime: Runtime) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "schema", "pool"}
    assert runtime.settings.resolved_database_url not in ready.text


async def test_ready_reports_maintenance(client: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.settings.maintenance_flag_path.write_text("cutover")
    ready = await client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "maintenance"
    refused = await client.post("/api/v1/submissions", json={"telegram_id": 1, "text": TASK2_ESSAY})
    assert refused.status_code == 503 and refused.headers["Retry-After"]


async def test_submit_then_history(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/submissions",
        json={"telegram_id": 6_100_000_000, "text": TASK2_ESSAY, "task_type": "task_2"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["saved"] is True and body["remaining_today"] == 2
    assert set(body["assessment"]["criteria"]) == {
        "task_achievement",
        "coherence_cohesion",
        "lexical_resource",
        "grammatical_accuracy",
    }
    assert body["assessment"]["assessor"] == "offline"

    history = await client.get("/api/v1/users/6100000000/history")
    assert history.status_code == 200
    entries = history.json()["entries"]
    assert [entry["submission_id"] for entry in entries] == [body["id"]]
    assert entries[0]["overall_band"] == body["assessment"]["overall_band"]
    assert history.json()["trend"]["assessments"] == 1


QUESTION = (
    "Some people believe that universities should focus on practical skills, while others "
    "think academic knowledge matters more. Discuss both views and give your opinion."
)
FRENCH_ESSAY = (
    "Le gouvernement doit investir davantage dans les transports publics, car ils réduisent "
    "la pollution et les embouteillages dans les grandes villes. De plus, les citoyens "
    "profitent de trajets moins chers et plus rapides, ce qui améliore leur qualité de vie. "
) * 4


async def test_the_question_and_the_range_go_through_the_api(client: httpx.AsyncClient) -> None:
    payload = {"telegram_id": 6_200_000_000, "text": TASK2_ESSAY, "prompt": QUESTION}
    created = await client.post("/api/v1/submissions", json=payload)
    assert created.status_code == 201, created.text
    assessment = created.json()["assessment"]
    low, high = Decimal(assessment["band_low"]), Decimal(assessment["band_high"])
    assert low <= Decimal(assessment["overall_band"]) <= high
    overall = Decimal(assessment["overall_band"])
    assert assessment["likely"] == f"{overall:.1f} (likely {low:.1f}–{high:.1f})"
    assert "question's key words" in assessment["criteria"]["task_achievement"]["justification"]
    assert assessment["flagged"] is False
    again = await client.post("/api/v1/submissions", json=payload)
    assert again.json()["assessment"]["criteria"] == assessment["criteria"]
    entries = (await client.get("/api/v1/users/6200000000/history")).json()["entries"]
    assert [entry["prompt"] for entry in entries] == [QUESTION, QUESTION]
    assert entries[0]["band_low"] == assessment["band_low"]


async def test_non_english_is_refused_like_the_bot_does(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/api/v1/submissions", json={"telegram_id": 6_300_000_000, "text": FRENCH_ESSAY}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "text"
    assert "not in English" in refused.text


@pytest.mark.parametrize(
    "garbage",
    [" ".join(reversed(TASK2_ESSAY.split())), "the " * 300, (QUESTION + " ") * 4],
    ids=["reversed words", "one word repeated", "the question pasted back"],
)
async def test_garbage_scores_low_through_the_api(client: httpx.AsyncClient, garbage: str) -> None:
    created = await client.post(
        "/api/v1/submissions",
        json={"telegram_id": 64, "text": garbage, "task_type": "task_2", "prompt": QUESTION},
    )
    assert created.status_code == 201, created.text
    assert Decimal(created.json()["assessment"]["overall_band"]) <= Decimal(4)


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    short = await client.post("/api/v1/submissions", json={"telegram_id": 1, "text": SHORT_TEXT})
    assert short.status_code == 422 and short.json()["field"] == "text"
    wrong_type = await client.post(
        "/api/v1/submissions", json={"telegram_id": 1, "text": TASK2_ESSAY, "task_type": "task_3"}
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "task_type"


async def test_limit_gives_429_with_reset_time(client: httpx.AsyncClient) -> None:
    payload = {"telegram_id": 9, "text": TASK2_ESSAY}
    for _ in range(3):
        assert (await client.post("/api/v1/submissions", json=payload)).status_code == 201
    refused = await client.post("/api/v1/submissions", json=payload)
    assert refused.status_code == 429
    assert refused.json()["limit"] == 3 and refused.json()["resets_at"].endswith("+00:00")


async def test_unknown_candidate_history_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/123/history")).status_code == 404


async def test_bearer_token_is_required_when_configured(runtime: Runtime) -> None:
    from pydantic import SecretStr

    settings = runtime.settings.model_copy(
        update={"api_token": SecretStr("t0ken-abcdef-0123456789")}
    )
    app = create_app(
        settings,
        runtime=Runtime(
            settings, runtime.engine, runtime.sessions, runtime.assessor, runtime.policy
        ),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bandwise.test"
    ) as client:
        assert (await client.get("/api/v1/users/1/history")).status_code == 401
        wrong = await client.get("/api/v1/users/1/history", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        right = await client.get(
            "/api/v1/users/1/history", headers={"Authorization": "Bearer t0ken-abcdef-0123456789"}
        )
        assert right.status_code == 404
        assert (await client.get("/health/live")).status_code == 200


async def test_fifty_concurrent_requests_for_one_user_get_exactly_the_limit(
    client: httpx.AsyncClient,
) -> None:
    import asyncio

    payload = {"telegram_id": 7_000_000_007, "text": TASK2_ESSAY, "task_type": "task_2"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/submissions", json=payload) for _ in range(50))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 3 + [429] * 47
    history = await client.get("/api/v1/users/7000000007/history")
    assert len(history.json()["entries"]) == 3


async def test_application_metrics_count_submissions_and_refusals(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from bandwise.ops.monitoring.service import start_monitoring

    monitoring = start_monitoring(runtime)  # the app's lifespan does this when serving
    try:
        await _count_submissions_and_refusals(client)
    finally:
        await monitoring.stop()


async def _count_submissions_and_refusals(client: httpx.AsyncClient) -> None:
    def sample(text: str, name: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = (await client.get("/metrics")).text
    for number in range(4):  # four different essays: the same one twice gets its stored result
        text = f"{TASK2_ESSAY}\n\nEssay number {number}."
        payload = {"telegram_id": 31, "text": text, "task_type": "task_2"}
        await client.post("/api/v1/submissions", json=payload)
    after = (await client.get("/metrics")).text
    submitted = 'bandwise_submissions_total{task_type="task_2"}'
    assert sample(after, submitted) - sample(before, submitted) == 3
    scored = 'bandwise_assessments_total{assessor="offline",outcome="ok"}'
    assert sample(after, scored) - sample(before, scored) == 3
    refused = "bandwise_rate_limit_refusals_total"
    assert sample(after, refused) - sample(before, refused) == 1
