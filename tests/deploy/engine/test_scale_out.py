"""The scale-out shape on a real engine: the bot in webhook mode, two replicas behind the
`proxy` profile's nginx, PgBouncer in front of PostgreSQL, Redis FSM storage.

The replicas talk to a fake Bot API (testkit.fake_telegram) served on the host at the gateway
of the stack's own network, through TELEGRAM_API_URL.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from testkit.engine import Engine, Stack, copy_project, run
from testkit.essays import TASK2_ESSAY
from testkit.fake_telegram import Call, FakeTelegram
from testkit.pg_cluster import free_port

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

REPLICAS = 2
SUBMISSIONS = re.compile(r"(?m)^bandwise_submissions_total\{[^}]*\} ([0-9.e+]+)$")
BOT_UPDATES = re.compile(r"(?m)^bandwise_bot_updates_total\{[^}]*\} ([0-9.e+]+)$")
WEBHOOK_PATH = "/telegram/webhook"
BOT_TOKEN = "123456:TEST-token-for-the-fake-bot-api"
METRICS_PROBE = (
    "import urllib.request; print(urllib.request.urlopen("
    "'http://127.0.0.1:8080/metrics', timeout=5).read().decode())"
)


def free_port_range(size: int) -> int:
    """Return the first of ``size`` consecutive loopback ports that are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        sockets = []
        try:
            for port in range(first, first + size):
                taken = socket.socket()
                sockets.append(taken)
                taken.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for taken in sockets:
                taken.close()
    raise RuntimeError(f"no {size} consecutive free ports")


@dataclass
class ScaledStack:
    """The scaled stack and the fake Bot API its replicas talk to."""

    stack: Stack
    telegram: FakeTelegram


@pytest.fixture(scope="module")
def scaled_stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledStack]:
    """`up --scale bot=2` with the proxy, redis and pgbouncer profiles, in webhook mode."""
    root = copy_project(tmp_path_factory.mktemp("scale") / "bandwise")
    first = free_port_range(REPLICAS + 1)
    stack = Stack(engine, root, "bwscale")
    stack.settings = {
        "COMPOSE_PROFILES": "proxy,redis,pgbouncer",
        "API_HOST_PORT": f"{first}-{first + REPLICAS}",
        "PROXY_HOST_PORT": str(stack.api_port),
    }
    settings = {
        "BANDWISE_DB_HOST": "pgbouncer",
        "BANDWISE_DB_PORT": "6432",
        "DB_PGBOUNCER": "true",
        "REDIS_URL": "redis://redis:6379/0",
        "BOT_TOKEN": BOT_TOKEN,
        "WEBHOOK_URL": f"https://bot.example.invalid{WEBHOOK_PATH}",
    }
    stack.write_env(**settings)
    stack.down()
    stack.compose("build")
    # The network first: the fake Bot API listens on its gateway, reachable from the replicas.
    stack.compose("up", "--no-start")
    gateway = stack.engine.docker(
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        f"{stack.name}_default",
    ).strip()
    telegram = FakeTelegram(free_port(), host=gateway).start()
    stack.write_env(**settings, TELEGRAM_API_URL=telegram.url)
    try:
        stack.compose("up", "-d", "--scale", f"bot={REPLICAS}")
        for replica in replicas(stack):
            stack.wait_container_healthy(replica)
        stack.wait_healthy("redis")
        yield ScaledStack(stack, telegram)
    finally:
        stack.down()
        telegram.stop()


@pytest.fixture
def scaled(scaled_stack: ScaledStack) -> Stack:
    """The scaled stack alone."""
    return scaled_stack.stack


def replicas(stack: Stack) -> list[str]:
    """Return the container ids of the bot's replicas."""
    return stack.compose("ps", "-q", "bot").stdout.split()


def counted_by(stack: Stack, container: str, metric: re.Pattern[str]) -> float:
    """Return one replica's total of ``metric`` (all labels), from its own /metrics."""
    text = stack.engine.docker("exec", container, "python", "-c", METRICS_PROBE)
    return sum(float(value) for value in metric.findall(text))


def submitted_by(stack: Stack, container: str) -> float:
    """Return how many essays one replica accepted."""
    return counted_by(stack, container, SUBMISSIONS)


def start_update(user_id: int) -> dict[str, object]:
    """Return a Telegram update: ``user_id`` sends /start in a private chat."""
    user = {"id": user_id, "is_bot": False, "first_name": f"Candidate {user_id}"}
    return {
        "update_id": user_id,
        "message": {
            "message_id": 1,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": user,
            "text": "/start",
        },
    }


def post_update(stack: Stack, update: dict[str, object], secret: str | None) -> int:
    """POST ``update`` to the proxy's webhook path as Telegram does; return the status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.api_port}{WEBHOOK_PATH}",
        data=json.dumps(update).encode(),
        method="POST",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http only)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_telegram_updates_through_the_proxy_reach_exactly_one_replica_each(
    scaled_stack: ScaledStack,
) -> None:
    stack, telegram = scaled_stack.stack, scaled_stack.telegram
    # Every replica registered the same webhook, with the secret, at the fake Bot API.
    assert len(telegram.calls_of("setWebhook")) >= REPLICAS
    secret = stack.env_file()["WEBHOOK_SECRET"]
    before = {replica: counted_by(stack, replica, BOT_UPDATES) for replica in replicas(stack)}
    assert post_update(stack, start_update(50_000), None) == 401
    assert post_update(stack, start_update(50_001), "wrong-secret") == 401
    users = list(range(50_100, 50_110))
    for user in users:
        assert post_update(stack, start_update(user), secret) == 200

    def answered(calls: list[Call]) -> bool:
        chats = [call.params.get("chat_id") for call in calls if call.method == "sendMessage"]
        return all(user in chats for user in users)

    telegram.wait_for(answered, timeout=120)
    handled = {
        replica: counted_by(stack, replica, BOT_UPDATES) - before[replica]
        for replica in replicas(stack)
    }
    assert sum(handled.values()) == len(users), handled
    assert all(value > 0 for value in handled.values()), f"one replica got nothing: {handled}"
    refused = [50_000, 50_001]
    chats = [call.params.get("chat_id") for call in telegram.calls_of("sendMessage")]
    assert not any(user in chats for user in refused)


def submit(stack: Stack, telegram_id: int) -> tuple[int, object]:
    """Submit the sample essay for ``telegram_id`` through the proxy."""
    return stack.api(
        "POST", "/api/v1/submissions", {"telegram_id": telegram_id, "text": TASK2_ESSAY}
    )


def test_the_replicas_run_behind_pgbouncer_and_the_proxy(scaled: Stack) -> None:
    assert len(replicas(scaled)) == REPLICAS
    for replica in replicas(scaled):
        env = scaled.engine.docker("inspect", "--format", "{{json .Config.Env}}", replica)
        assert "@pgbouncer:6432/" in env and "DB_PGBOUNCER=true" in env
    status, _ = scaled.api("GET", "/health/ready")
    assert status == 200
    assert scaled.exec("redis", "redis-cli", "ping").strip() == "PONG"


def test_each_request_through_the_proxy_is_handled_by_exactly_one_replica(
    scaled: Stack,
) -> None:
    before = {replica: submitted_by(scaled, replica) for replica in replicas(scaled)}
    count = 12
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: submit(scaled, 30_000 + n), range(count)))
    assert [status for status, _ in results] == [201] * count, results
    handled = {
        replica: submitted_by(scaled, replica) - before[replica] for replica in replicas(scaled)
    }
    assert sum(handled.values()) == count, handled
    assert all(value > 0 for value in handled.values()), f"one replica got nothing: {handled}"
    stored = scaled.psql(
        "SELECT count(*) FROM submissions s JOIN users u ON u.id = s.user_id "
        "WHERE u.telegram_id BETWEEN 30000 AND 30011"
    )
    assert int(stored) == count


def test_the_daily_limit_holds_exactly_across_replicas(scaled: Stack) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: submit(scaled, 31_000), range(6)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 201, 201, 429, 429, 429], results
    stored = scaled.psql(
        "SELECT count(*) FROM submissions s JOIN users u ON u.id = s.user_id "
        "WHERE u.telegram_id = 31000"
    )
    assert int(stored) == 3


def test_one_alerter_leads(scaled: Stack) -> None:
    claims: list[str] = []
    for _ in scaled.poll(timeout=120):
        claims = [
            replica
            for replica in replicas(scaled)
            if "this instance now sends the alerts"
            in scaled.engine.docker("logs", replica, check=False) + run_logs_stderr(scaled, replica)
        ]
        if claims:
            break
    assert len(claims) == 1, f"{len(claims)} replicas lead the alerts"


def run_logs_stderr(stack: Stack, container: str) -> str:
    """Return what ``container`` wrote to its standard error (where the logs go)."""
    return run(["docker", "logs", container], stack.engine.env(), check=False).stderr


def test_killing_one_replica_loses_no_acknowledged_submission(scaled: Stack) -> None:
    acknowledged: list[int] = []
    stop = threading.Event()
    progress = threading.Condition()

    def trickle() -> None:
        telegram_id = 40_000
        while not stop.is_set():
            telegram_id += 1
            try:
                status, body = submit(scaled, telegram_id)
            except OSError:
                continue
            if status == 201 and isinstance(body, dict):
                with progress:
                    acknowledged.append(int(body["id"]))
                    progress.notify_all()

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= 4, timeout=120)
        victim = replicas(scaled)[0]
        scaled.engine.docker("kill", victim)
        before = len(acknowledged)
        with progress:
            # The survivor keeps serving through the proxy.
            assert progress.wait_for(lambda: len(acknowledged) >= before + 6, timeout=180)
    finally:
        stop.set()
        worker.join(timeout=60)
    stored = {int(row) for row in scaled.psql("SELECT id FROM submissions").split()}
    missing = set(acknowledged) - stored
    assert not missing, f"acknowledged but lost: {sorted(missing)}"
    scaled.engine.docker("start", victim)
    scaled.wait_container_healthy(victim)


def test_stopping_a_replica_loses_no_acknowledged_telegram_update(
    scaled_stack: ScaledStack,
) -> None:
    stack, telegram = scaled_stack.stack, scaled_stack.telegram
    secret = stack.env_file()["WEBHOOK_SECRET"]
    survivors = replicas(stack)
    assert len(survivors) >= 2, "needs two running replicas"
    acknowledged: list[int] = []
    stop = threading.Event()
    progress = threading.Condition()

    def trickle() -> None:
        user = 60_000
        while not stop.is_set():
            user += 1
            try:
                status = post_update(stack, start_update(user), secret)
            except OSError:
                continue
            if status == 200:
                with progress:
                    acknowledged.append(user)
                    progress.notify_all()

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= 4, timeout=120)
        # docker stop: SIGTERM, then the replica drains what it acknowledged.
        stack.engine.docker("stop", "--time", "60", survivors[0])
        before = len(acknowledged)
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= before + 6, timeout=180)
    finally:
        stop.set()
        worker.join(timeout=60)

    def answered(calls: list[Call]) -> bool:
        chats = {call.params.get("chat_id") for call in calls if call.method == "sendMessage"}
        return set(acknowledged) <= chats

    telegram.wait_for(answered, timeout=120)
