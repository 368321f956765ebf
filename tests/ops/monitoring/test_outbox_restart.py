"""The alert outbox outlives the process: undelivered messages resume in order, none twice.

Real instances (``Monitoring`` over the test's database, on both engines) and a loopback
webhook; a restart is a new ``Monitoring`` on the same database after the old one stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from sqlalchemy import select

from bandwise.config import Settings
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.models import AlertDelivery
from bandwise.ops.monitoring.alerts import Alerter
from bandwise.ops.monitoring.leader import leader_for
from bandwise.ops.monitoring.notify import Notifier
from bandwise.ops.monitoring.outbox import Outbox
from bandwise.ops.monitoring.outbox_store import OutboxStore
from bandwise.ops.monitoring.rules import DEFAULT_RULES, Observation
from bandwise.ops.monitoring.service import Monitoring
from testkit.backup import write_manifest
from testkit.http_receiver import Receiver, http_receiver
from testkit.monitoring import NOW, backup, pg
from testkit.monitoring import instance as runtime_over

ALERT = "BandwiseBackupVerifyFailed"  # fires at once on a failed verification


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[Monitoring]:
    """Run one bandwise instance's monitoring on ``settings``' database; stop it on exit."""
    runtime = runtime_over(settings)
    monitoring = Monitoring(runtime)
    try:
        yield monitoring
    finally:
        await monitoring.stop()
        await runtime.close()


def states(receiver: Receiver) -> list[str]:
    return [f"{body['alert']}:{body['status']}" for body in receiver.bodies()]


async def outbox_rows(settings: Settings) -> list[tuple[str, list[str], bool]]:
    engine = create_engine(settings, null_pool=True)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.scalars(select(AlertDelivery).order_by(AlertDelivery.id))
            return [(row.status, sorted(row.pending), row.done_at is not None) for row in rows]
    finally:
        await engine.dispose()


async def tick_until(monitoring: Monitoring, done: Callable[[], bool], ticks: int = 4) -> None:
    """Collect and evaluate until ``done()`` holds (a follower sees a free lock twice first)."""
    for _ in range(ticks):
        await monitoring.tick()
        if done():
            return
    raise AssertionError(f"not done after {ticks} collections")


async def test_undelivered_messages_resume_in_order_after_a_restart(settings: Settings) -> None:
    with http_receiver() as receiver:
        shared = settings.model_copy(update={"alert_webhook_url": f"{receiver.url}/hook"})
        receiver.refuse_next = 1000  # the webhook is down
        async with instance(shared) as first:
            await first.tick()
            write_manifest(shared.backup_dir, 1, "failed")
            await first.tick()  # firing: refused, the webhook lane backs off
            write_manifest(shared.backup_dir, 2, "passed")
            await first.tick()  # resolved: queued behind it
            assert [d.state for d in first.alerter.recent] == ["failed", "pending"]
        assert await outbox_rows(shared) == [
            ("firing", ["webhook"], False),
            ("resolved", ["webhook"], False),
        ]
        async with instance(shared) as second:  # restarted; the webhook still down
            await second.tick()
            firing, resolved = second.alerter.recent  # what /admin lists
            assert firing.describe().startswith("failed to webhook after 2 attempts (webhook: HTTP")
            assert resolved.state == "pending"
        refused = len(receiver.refused)
        receiver.refuse_next = 0  # back up while bandwise restarts

        async with instance(shared) as third:
            await third.tick()
            assert states(receiver) == [f"{ALERT}:firing", f"{ALERT}:resolved"]
            assert [d.state for d in third.alerter.recent] == ["delivered", "delivered"]
            await third.tick()
        async with instance(shared) as fourth:
            await fourth.tick()
    assert states(receiver) == [f"{ALERT}:firing", f"{ALERT}:resolved"]  # each once
    assert len(receiver.refused) == refused
    assert await outbox_rows(shared) == [("firing", [], True), ("resolved", [], True)]


async def test_an_alert_firing_across_a_restart_is_not_announced_again(
    settings: Settings,
) -> None:
    with http_receiver() as receiver:
        shared = settings.model_copy(update={"alert_webhook_url": f"{receiver.url}/hook"})
        async with instance(shared) as first:
            await first.tick()
            write_manifest(shared.backup_dir, 1, "failed")
            await first.tick()
            assert states(receiver) == [f"{ALERT}:firing"]
        async with instance(shared) as second:
            await second.tick()  # still failing: the same episode, already announced
            await second.tick()
            assert states(receiver) == [f"{ALERT}:firing"]
            assert [alert.name for alert in second.alerter.firing()] == [ALERT]
            write_manifest(shared.backup_dir, 2, "passed")
            await second.tick()  # its end is announced, by the new process
    assert states(receiver) == [f"{ALERT}:firing", f"{ALERT}:resolved"]
    firing, resolved = receiver.bodies()
    assert resolved["started_at"] == firing["started_at"]


async def test_the_next_sender_delivers_what_the_last_one_left_once(settings: Settings) -> None:
    with http_receiver() as receiver:
        shared = settings.model_copy(update={"alert_webhook_url": f"{receiver.url}/hook"})
        receiver.refuse_next = 1000
        async with instance(shared) as follower:
            async with instance(shared) as leader:
                await leader.tick()
                await follower.tick()
                assert (leader.alerter.is_leader, follower.alerter.is_leader) == (True, False)
                write_manifest(shared.backup_dir, 1, "failed")
                await leader.tick()  # refused: left undelivered
                await follower.tick()  # knows the alert fires, does not send
                assert receiver.bodies() == [] and len(receiver.refused) == 1
            receiver.refuse_next = 0  # the leader is gone; the webhook is back
            await tick_until(follower, lambda: bool(receiver.bodies()))
            assert follower.alerter.is_leader
            await follower.tick()
    assert states(receiver) == [f"{ALERT}:firing"]
    assert await outbox_rows(shared) == [("firing", [], True)]


async def test_an_instance_that_sends_again_does_not_repeat_what_another_delivered(
    settings: Settings,
) -> None:
    """A leads and cannot deliver; B takes over and delivers; A leads again: nothing resent."""
    engine = create_engine(settings, null_pool=True)
    failed = Observation(pg(), backups=[backup(1, "failed")], now=NOW)
    with http_receiver() as receiver:
        shared = settings.model_copy(update={"alert_webhook_url": f"{receiver.url}/hook"})
        leaders = [leader_for(engine), leader_for(engine)]
        alerters = []
        for leader in leaders:
            notifier = Notifier(shared)
            outbox = Outbox(notifier, store=OutboxStore(engine))
            alerters.append(Alerter(DEFAULT_RULES, notifier, leader, 900, outbox))
        first, second = alerters
        receiver.refuse_next = 1000
        try:
            assert await first.evaluate(failed) == []  # refused: still in first's queue
            assert first.is_leader and len(first.outbox.queued) == 1
            await leaders[0].release()  # first loses its lock (it keeps running)
            receiver.refuse_next = 0
            for step in range(1, 5):
                await second.evaluate(replace(failed, now=NOW + step))
                if receiver.bodies():
                    break
            assert second.is_leader and states(receiver) == [f"{ALERT}:firing"]
            await leaders[1].release()
            for step in range(5, 9):
                await first.evaluate(replace(failed, now=NOW + step))
                if first.is_leader:
                    break
            assert first.is_leader and first.outbox.queued == []
            await first.evaluate(replace(failed, now=NOW + 60))
        finally:
            for alerter in alerters:
                await alerter.close()
            await engine.dispose()
    assert states(receiver) == [f"{ALERT}:firing"]
