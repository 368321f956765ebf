"""The alerter against a loopback webhook: every episode announced, reminders, ordered retries.

Time is the observation's clock (the alerter never reads the wall clock), so each test walks
through minutes of an outage without waiting.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from bandwise.api.app import create_app
from bandwise.config import Settings, load_settings
from bandwise.ops.monitoring.alerts import Alerter
from bandwise.ops.monitoring.leader import FileLockLeader
from bandwise.ops.monitoring.notify import Notifier
from bandwise.ops.monitoring.outbox import RETRY_BASE_SECONDS, Outbox
from bandwise.ops.monitoring.pg_stats import DatabaseStats
from bandwise.ops.monitoring.rules import DEFAULT_RULES, Observation
from bandwise.ops.monitoring.service import Monitoring
from bandwise.runtime import Runtime
from testkit.backup import write_manifest
from testkit.http_receiver import Receiver, http_receiver
from testkit.monitoring import ADMIN_TOKEN, NOW, asgi_client, backup, pg

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TARGET = "postgresql+asyncpg://bandwise:***@db.internal:5432/bandwise"
UP = replace(pg(), target=TARGET, server_version="16.4")
DOWN = replace(UP, up=False, error="ConnectionRefusedError")


@dataclass
class Harness:
    alerter: Alerter
    receiver: Receiver

    async def at(self, seconds: float, stats: DatabaseStats) -> list[str]:
        """Evaluate ``stats`` at NOW + ``seconds``; return what reached the webhook."""
        stamped = replace(stats, collected_at=NOW + seconds)
        observation = Observation(stamped, backups=[backup(1)], now=NOW + seconds)
        delivered = await self.alerter.evaluate(observation)
        return [f"{m.alert}:{m.status}{'+reminder' if m.reminder else ''}" for m in delivered]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with http_receiver() as receiver:
        settings = load_settings(alert_webhook_url=f"{receiver.url}/hook")
        notifier = Notifier(settings)
        alerter = Alerter(
            DEFAULT_RULES,
            notifier,
            FileLockLeader(tmp_path / "alerter.lock"),
            cooldown_seconds=900,
            outbox=Outbox(notifier, retry_base=10, retry_max=40),
        )
        yield Harness(alerter, receiver)


async def test_a_second_outage_within_the_cooldown_is_announced(harness: Harness) -> None:
    try:
        assert await harness.at(0, DOWN) == []  # pending: held for 60 s
        assert await harness.at(61, DOWN) == ["BandwiseDatabaseDown:firing"]
        assert await harness.at(120, UP) == ["BandwiseDatabaseDown:resolved"]
        # Down again two minutes later, well within the 900 s cool-down: a new episode.
        assert await harness.at(240, DOWN) == []
        assert await harness.at(301, DOWN) == ["BandwiseDatabaseDown:firing"]
        assert await harness.at(400, UP) == ["BandwiseDatabaseDown:resolved"]
    finally:
        await harness.alerter.close()
    bodies = harness.receiver.bodies()
    assert [b["status"] for b in bodies] == ["firing", "resolved", "firing", "resolved"]


async def test_a_long_outage_gets_a_reminder_every_cooldown(harness: Harness) -> None:
    try:
        await harness.at(0, DOWN)
        assert await harness.at(61, DOWN) == ["BandwiseDatabaseDown:firing"]
        assert await harness.at(900, DOWN) == []  # 839 s since the announcement
        assert await harness.at(961, DOWN) == ["BandwiseDatabaseDown:firing+reminder"]
        assert await harness.at(1500, DOWN) == []
        assert await harness.at(1861, DOWN) == ["BandwiseDatabaseDown:firing+reminder"]
        assert await harness.at(1900, UP) == ["BandwiseDatabaseDown:resolved"]
    finally:
        await harness.alerter.close()
    bodies = harness.receiver.bodies()
    assert [b["reminder"] for b in bodies] == [False, True, True, False]
    assert len({b["started_at"] for b in bodies}) == 1  # one episode throughout


async def test_messages_carry_iso_times_the_database_and_the_current_value(
    harness: Harness,
) -> None:
    try:
        await harness.at(0, DOWN)
        await harness.at(61, DOWN)
        await harness.at(120, UP)
    finally:
        await harness.alerter.close()
    firing, resolved = harness.receiver.bodies()
    assert firing["detail"] == f"database {TARGET} does not answer: ConnectionRefusedError"
    assert resolved["detail"] == f"database {TARGET} answers"  # now, not the stale detail
    assert ISO_UTC.match(firing["started_at"]) and firing["resolved_at"] is None
    assert ISO_UTC.match(resolved["resolved_at"]) and resolved["started_at"] == firing["started_at"]
    assert "***" in firing["detail"]  # the password stays masked


async def test_failed_deliveries_are_retried_in_order_and_shown_failed(harness: Harness) -> None:
    harness.receiver.refuse_next = 2
    try:
        await harness.at(0, DOWN)
        assert await harness.at(61, DOWN) == []  # refused (1st failure): retry after 10 s
        (delivery,) = harness.alerter.recent
        assert delivery.state == "failed" and "HTTP 500" in delivery.describe()
        assert await harness.at(65, DOWN) == []  # backoff not over: not even tried
        assert len(harness.receiver.refused) == 1
        # Resolved meanwhile: queued behind the undelivered firing message.
        assert await harness.at(72, UP) == []  # 2nd failure: backoff 20 s
        assert [d.state for d in harness.alerter.recent] == ["failed", "pending"]
        assert await harness.at(93, UP) == [
            "BandwiseDatabaseDown:firing",
            "BandwiseDatabaseDown:resolved",
        ]
        assert [d.state for d in harness.alerter.recent] == ["delivered", "delivered"]
    finally:
        await harness.alerter.close()
    assert [b["status"] for b in harness.receiver.bodies()] == ["firing", "resolved"]
    assert [p.body["status"] for p in harness.receiver.refused] == ["firing", "firing"]


async def test_a_destination_that_never_answers_backs_off_up_to_the_cap(
    harness: Harness,
) -> None:
    harness.receiver.refuse_next = 100
    try:
        await harness.at(0, DOWN)
        tries = []
        for second in range(61, 400):
            await harness.at(second, DOWN)
            tries.append(len(harness.receiver.refused))
    finally:
        await harness.alerter.close()
    # Tried at 61, then after 10, 20, 40, 40, … seconds (capped): not on every collection.
    attempts = sorted({tries.index(count) + 61 for count in set(tries)})
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[:3] == [10, 20, 40] and set(gaps[3:]) == {40}
    (delivery,) = harness.alerter.recent
    assert delivery.state == "failed" and delivery.attempts == len(attempts)


async def test_admin_page_shows_a_failed_delivery_until_it_is_delivered(
    runtime: Runtime, settings: Settings
) -> None:
    write_manifest(settings.backup_dir, 1, "failed")  # BandwiseBackupVerifyFailed fires at once
    with http_receiver() as receiver:
        receiver.refuse_next = 1
        runtime.settings = settings.model_copy(
            update={
                "alert_webhook_url": f"{receiver.url}/hook",
                "admin_token": SecretStr(ADMIN_TOKEN),
            }
        )
        monitoring = Monitoring(runtime)
        runtime.monitoring = monitoring
        app = create_app(runtime.settings, runtime)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        try:
            await monitoring.tick()
            async with asgi_client(app) as client:
                failed = (await client.get("/admin", headers=headers)).text
                # The retry is due at the next collection after the backoff.
                await monitoring.alerter.outbox.flush(time.time() + RETRY_BASE_SECONDS)
                delivered = (await client.get("/admin", headers=headers)).text
        finally:
            await monitoring.stop()
    recent = failed.split('id="recent-alerts"')[1]
    assert "BandwiseBackupVerifyFailed" in recent
    assert "failed to webhook after 1 attempts (webhook: HTTP 500)" in recent
    assert "delivered 20" in delivered.split('id="recent-alerts"')[1]
    assert [b["alert"] for b in receiver.bodies()] == ["BandwiseBackupVerifyFailed"]
