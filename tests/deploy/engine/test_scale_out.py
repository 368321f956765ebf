"""The scale-out shape on a real engine: the bot in webhook mode, two replicas behind the
`proxy` profile's nginx, PgBouncer in front of PostgreSQL, Redis FSM storage.

The replicas talk to a fake Bot API (testkit.fake_telegram) served on the host at the gateway
of the stack's own network (TELEGRAM_API_URL, ALERT_TELEGRAM_API_URL); the test posts
Telegram's updates to the proxy as Telegram would, and redelivers what was not acknowledged.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from bandwise.ops.monitoring.leader import ALERTER_LOCK_KEY
from testkit.engine import Engine, EngineError, Stack, copy_project
from testkit.essays import TASK2_ESSAY
from testkit.fake_telegram import Call, FakeTelegram
from testkit.pg_cluster import free_port
from testkit.telegram import Candidate

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

REPLICAS = 2
WEBHOOK_PATH = "/telegram/webhook"
BOT_TOKEN = "123456:TEST-token-for-the-fake-bot-api"
ADMIN_ID = 777
# The replica's own /metrics, with the bearer token its container already has.
METRICS_PROBE = (
    "import os, urllib.request; print(urllib.request.urlopen(urllib.request.Request("
    "'http://127.0.0.1:8080/metrics', headers={'Authorization': 'Bearer ' + "
    "os.environ['API_TOKEN']}), timeout=5).read().decode())"
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
class Scaled:
    """The scaled stack and the fake Bot API its replicas talk to."""

    stack: Stack
    telegram: FakeTelegram

    @property
    def secret(self) -> str:
        """Return the webhook secret deploy-style .env generated."""
        return self.stack.env_file()["WEBHOOK_SECRET"]

    def replicas(self) -> list[str]:
        """Return the container ids of the bot's running replicas."""
        return self.stack.compose("ps", "-q", "bot").stdout.split()

    def running(self) -> list[str]:
        """Return the replicas Docker reports running."""
        template = "{{.State.Running}}"
        return [
            replica
            for replica in self.replicas()
            if self.stack.engine.docker("inspect", "--format", template, replica).strip() == "true"
        ]

    def metric(self, replica: str, name: str, **labels: str) -> float:
        """Return one replica's ``name`` summed over the series matching ``labels``."""
        text = self.stack.engine.docker("exec", replica, "python", "-c", METRICS_PROBE)
        total = 0.0
        for found in re.finditer(rf"(?m)^{name}(?:\{{([^}}]*)\}})? ([0-9.e+-]+)$", text):
            series = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1) or ""))
            if all(series.get(key) == value for key, value in labels.items()):
                total += float(found.group(2))
        return total

    def per_replica(self, name: str, **labels: str) -> dict[str, float]:
        """Return ``name`` for every running replica."""
        return {replica: self.metric(replica, name, **labels) for replica in self.running()}

    def total(self, name: str, **labels: str) -> float:
        """Return ``name`` summed over every running replica."""
        return sum(self.per_replica(name, **labels).values())

    def post(self, update: dict[str, Any], secret: str | None) -> int:
        """POST ``update`` to the proxy's webhook path as Telegram does; return the status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.stack.api_port}{WEBHOOK_PATH}",
            data=json.dumps(update).encode(),
            method="POST",
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (http)
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def leaders(self) -> dict[str, float]:
        """Return each running replica's bandwise_alerter_leader."""
        return self.per_replica("bandwise_alerter_leader")


def start_update(user: int) -> dict[str, Any]:
    """Return the update of ``user`` sending /start, as Telegram posts it."""
    update = Candidate(telegram_id=user, first_name=f"C{user}").text("/start")
    return update.model_dump(mode="json", exclude_none=True)


def essay_update(user: int) -> dict[str, Any]:
    """Return the update of ``user`` sending the sample Task 2 essay."""
    update = Candidate(telegram_id=user, first_name=f"C{user}").text(TASK2_ESSAY)
    return update.model_dump(mode="json", exclude_none=True)


def chats_of(calls: list[Call], method: str = "sendMessage") -> list[int]:
    """Return the chat ids of ``method`` calls, one per call."""
    return [int(call.params.get("chat_id", 0)) for call in calls if call.method == method]


def until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` (state in other processes: no event to wait on) or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def scaled(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    """`up --scale bot=2` with the proxy, redis and pgbouncer profiles, in webhook mode."""
    root = copy_project(tmp_path_factory.mktemp("scale") / "bandwise")
    first = free_port_range(REPLICAS + 1)
    stack = Stack(engine, root, "bwscale")
    stack.settings = {
        "COMPOSE_PROFILES": "proxy,redis,pgbouncer",
        "API_HOST_PORT": f"{first}-{first + REPLICAS}",
        "PROXY_HOST_PORT": str(stack.api_port),
    }
    env = stack.write_env(
        BANDWISE_DB_HOST="pgbouncer",
        BANDWISE_DB_PORT="6432",
        DB_PGBOUNCER="true",
        REDIS_URL="redis://redis:6379/0",
        BOT_TOKEN=BOT_TOKEN,
        ADMIN_IDS=str(ADMIN_ID),
        WEBHOOK_URL=f"https://bot.example.invalid{WEBHOOK_PATH}",
        DB_STATS_INTERVAL="2",
    )
    stack.down()
    stack.compose("build")
    # The network first: the fake Bot API listens on its gateway, which the replicas reach.
    stack.compose("up", "--no-start")
    gateway = engine.docker(
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        f"{stack.name}_default",
    ).strip()
    telegram = FakeTelegram(free_port(), host=gateway).start()
    with env.open("a", encoding="utf-8") as appended:
        appended.write(f"TELEGRAM_API_URL={telegram.url}\nALERT_TELEGRAM_API_URL={telegram.url}\n")
    try:
        started = stack.compose("up", "-d", "--scale", f"bot={REPLICAS}", check=False)
        if started.returncode != 0:
            logs = stack.compose("logs", "--tail", "30", "bot", check=False).stdout
            raise EngineError(f"up failed:\n{started.stderr[-3000:]}\n--- bot logs\n{logs}")
        scaled = Scaled(stack, telegram)
        for replica in scaled.replicas():
            stack.wait_container_healthy(replica)
        stack.wait_healthy("redis")
        yield scaled
    finally:
        stack.down()
        telegram.stop()


def test_the_replicas_run_in_webhook_mode_behind_pgbouncer_and_the_proxy(scaled: Scaled) -> None:
    stack = scaled.stack
    assert len(scaled.running()) == REPLICAS
    for replica in scaled.running():
        env = stack.engine.docker("inspect", "--format", "{{json .Config.Env}}", replica)
        assert "@pgbouncer:6432/" in env and "DB_PGBOUNCER=true" in env
        assert "REDIS_URL=redis://redis:6379/0" in env
        assert scaled.metric(replica, "bandwise_bot_webhook_registered") == 1
    # Every replica registered the same webhook, with the secret, at the (fake) Bot API.
    registrations = scaled.telegram.calls_of("setWebhook")
    assert len(registrations) >= REPLICAS
    assert {call.params.get("secret_token") for call in registrations} == {scaled.secret}
    status, _ = stack.api("GET", "/health/ready")
    assert status == 200
    assert stack.exec("redis", "redis-cli", "ping").strip() == "PONG"


def test_each_update_reaches_exactly_one_replica_and_a_wrong_secret_none(scaled: Scaled) -> None:
    before = scaled.per_replica("bandwise_bot_updates_total")
    rejected = "bandwise_bot_webhook_rejected_total"
    rejected_before = {
        reason: scaled.total(rejected, reason=reason)
        for reason in ("missing_secret", "wrong_secret")
    }
    assert scaled.post(start_update(50_000), None) == 401
    assert scaled.post(start_update(50_001), "not-the-secret") == 401
    users = list(range(50_100, 50_112))
    secret = scaled.secret
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda user: scaled.post(start_update(user), secret), users))
    assert statuses == [200] * len(users)
    # Answered after handling: every greeting is already at the Bot API, once.
    greeted = chats_of(scaled.telegram.calls)
    assert [greeted.count(user) for user in users] == [1] * len(users), greeted
    assert 50_000 not in greeted and 50_001 not in greeted
    handled = {
        replica: count - before[replica]
        for replica, count in scaled.per_replica("bandwise_bot_updates_total").items()
    }
    assert sum(handled.values()) == len(users), handled
    assert all(value > 0 for value in handled.values()), f"one replica got nothing: {handled}"
    for reason, count in rejected_before.items():
        assert scaled.total(rejected, reason=reason) == count + 1, reason


def test_each_api_submission_through_the_proxy_is_handled_by_exactly_one_replica(
    scaled: Scaled,
) -> None:
    before = scaled.per_replica("bandwise_submissions_total")
    count = 12
    body = {"text": TASK2_ESSAY}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda n: scaled.stack.api(
                    "POST", "/api/v1/submissions", {**body, "telegram_id": 30_000 + n}
                ),
                range(count),
            )
        )
    assert [status for status, _ in results] == [201] * count, results
    handled = {
        replica: value - before[replica]
        for replica, value in scaled.per_replica("bandwise_submissions_total").items()
    }
    assert sum(handled.values()) == count, handled
    assert all(value > 0 for value in handled.values()), f"one replica got nothing: {handled}"
    stored = scaled.stack.psql(
        "SELECT count(*) FROM submissions s JOIN users u ON u.id = s.user_id "
        "WHERE u.telegram_id BETWEEN 30000 AND 30011"
    )
    assert int(stored) == count


def test_the_daily_limit_holds_exactly_across_replicas(scaled: Scaled) -> None:
    user, attempts, secret = 31_000, 6, scaled.secret
    refused_before = scaled.total("bandwise_rate_limit_refusals_total")
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(
            pool.map(lambda _: scaled.post(essay_update(user), secret), range(attempts))
        )
    assert statuses == [200] * attempts
    stored = scaled.stack.psql(
        "SELECT count(*) FROM submissions s JOIN users u ON u.id = s.user_id "
        f"WHERE u.telegram_id = {user}"
    )
    assert int(stored) == 3
    refused = scaled.total("bandwise_rate_limit_refusals_total") - refused_before
    assert refused == attempts - 3


def lock_holders(scaled: Scaled) -> list[str]:
    """Return the client addresses of the sessions holding the alerter's advisory lock."""
    rows = scaled.stack.psql(
        "SELECT host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        f"WHERE l.locktype = 'advisory' AND l.granted AND l.objid = {ALERTER_LOCK_KEY}"
    )
    return rows.split()


def address_of(scaled: Scaled, container: str) -> str:
    """Return ``container``'s address on the stack's network."""
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return scaled.stack.engine.docker("inspect", "--format", template, container).strip()


def test_one_alerter_leads_on_its_own_connection_to_postgresql(scaled: Scaled) -> None:
    seen: list[dict[str, float]] = []

    def one_leader() -> bool:
        seen.append(scaled.leaders())
        return sum(seen[-1].values()) == 1

    until(one_leader, 60, "exactly one replica leads the alerter")
    assert all(sum(leaders.values()) <= 1 for leaders in seen), seen
    leader = next(replica for replica, value in seen[-1].items() if value == 1)
    # The lock lives on the leader's direct session, not on a pooled PgBouncer connection.
    assert lock_holders(scaled) == [address_of(scaled, leader)]


def test_killing_the_leading_replica_loses_no_acknowledged_update(scaled: Scaled) -> None:
    until(lambda: sum(scaled.leaders().values()) == 1, 60, "one leader")
    victim = next(replica for replica, value in scaled.leaders().items() if value == 1)
    acknowledged: list[int] = []
    redelivered = 0
    stop = threading.Event()
    progress = threading.Condition()

    def telegram_delivers() -> None:
        """Post each update until a replica acknowledges it, as Telegram redelivers."""
        nonlocal redelivered
        user = 60_000
        while not stop.is_set():
            user += 1
            while not stop.is_set():
                try:
                    status = scaled.post(essay_update(user), scaled.secret)
                except OSError:
                    status = 0
                if status == 200:
                    break
                redelivered += 1
            else:
                return
            with progress:
                acknowledged.append(user)
                progress.notify_all()

    worker = threading.Thread(target=telegram_delivers, daemon=True)
    worker.start()
    try:
        with progress:
            assert progress.wait_for(lambda: len(acknowledged) >= 4, timeout=180)
        scaled.stack.engine.docker("kill", victim)
        before = len(acknowledged)
        with progress:
            # The survivor keeps serving through the proxy.
            assert progress.wait_for(lambda: len(acknowledged) >= before + 6, timeout=300)
    finally:
        stop.set()
        worker.join(timeout=150)
    # Acknowledged means handled: each reply reached the Bot API before the 200 did.
    replied = set(chats_of(scaled.telegram.calls))
    assert not set(acknowledged) - replied, f"acknowledged, never answered: {acknowledged}"
    stored = {
        int(row)
        for row in scaled.stack.psql(
            "SELECT u.telegram_id FROM submissions s JOIN users u ON u.id = s.user_id "
            "WHERE u.telegram_id > 60000"
        ).split()
    }
    assert not set(acknowledged) - stored, f"acknowledged but lost: {sorted(acknowledged)}"
    # The survivor takes over the alerter once the victim's session (and lock) is gone.
    survivors = [replica for replica in scaled.running() if replica != victim]
    assert survivors, "no replica survived"
    until(
        lambda: (
            [scaled.metric(replica, "bandwise_alerter_leader") for replica in survivors] == [1.0]
        ),
        120,
        f"the surviving replica leads the alerter ({redelivered} posts redelivered)",
    )
