"""Alerts reach a loopback webhook and a loopback Bot API, once, however many instances run."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from bandwise.config import Settings, load_settings
from bandwise.ops.monitoring.notify import AlertMessage, Notifier
from bandwise.ops.monitoring.service import Monitoring
from testkit.backup import write_manifest
from testkit.http_receiver import http_receiver
from testkit.monitoring import instance


async def test_two_instances_send_each_alert_once(settings: Settings, engine_name: str) -> None:
    with http_receiver() as receiver:
        shared = settings.model_copy(update={"alert_webhook_url": f"{receiver.url}/hook"})
        runtimes = [instance(shared), instance(shared)]
        instances = [Monitoring(runtime) for runtime in runtimes]
        try:
            for monitoring in instances:
                await monitoring.tick()
            assert [m.alerter.is_leader for m in instances].count(True) == 1
            write_manifest(shared.backup_dir, 1, "failed")
            for _ in range(2):
                for monitoring in instances:
                    await monitoring.tick()
            assert all(m.alerter.firing() for m in instances)  # both know, one tells
            if (
                engine_name == "postgresql"
            ):  # the leader's lock connection is not left mid-transaction
                async with runtimes[0].engine.connect() as connection:
                    stuck = await connection.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() "
                            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                        )
                    )
                assert stuck == 0
            write_manifest(shared.backup_dir, 2, "passed")
            for monitoring in instances:
                await monitoring.tick()
            states = [f"{b['alert']}:{b['status']}" for b in receiver.bodies()]
            assert states == [
                "BandwiseBackupVerifyFailed:firing",
                "BandwiseBackupVerifyFailed:resolved",
            ]
        finally:
            for monitoring in instances:
                await monitoring.stop()
            for runtime in runtimes:
                await runtime.close()


async def test_telegram_messages_go_to_every_admin_without_logging_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "123456:SECRET-bot-token"
    with http_receiver() as receiver:
        settings = load_settings(
            bot_token=token, admin_ids="11,22", alert_telegram_api_url=receiver.url
        )
        message = AlertMessage(
            "firing",
            "BandwiseDatabaseDown",
            "critical",
            "The database does not answer.",
            "unreachable",
            1.0,
            "host",
        )
        with caplog.at_level(logging.DEBUG):
            assert await Notifier(settings).send(message) == 2
    posts = receiver.posts
    assert {post.path for post in posts} == {f"/bot{token}/sendMessage"}
    assert sorted(post.body["chat_id"] for post in posts) == [11, 22]
    assert "BandwiseDatabaseDown" in posts[0].body["text"]
    assert token not in caplog.text


async def test_alerts_follow_the_bot_to_its_bot_api_server_unless_told_otherwise() -> None:
    """ALERT_TELEGRAM_API_URL unset: alerts go to TELEGRAM_API_URL, the bot's own server."""
    token = "123456:SECRET-bot-token"
    message = AlertMessage("firing", "X", "warning", "s", "d", 1.0, "host")
    with http_receiver() as local_bot_api, http_receiver() as elsewhere:
        follows = load_settings(bot_token=token, admin_ids="11", telegram_api_url=local_bot_api.url)
        assert await Notifier(follows).send(message) == 1
        apart = load_settings(
            bot_token=token,
            admin_ids="11",
            telegram_api_url=local_bot_api.url,
            alert_telegram_api_url=elsewhere.url,
        )
        assert await Notifier(apart).send(message) == 1
    assert [post.path for post in local_bot_api.posts] == [f"/bot{token}/sendMessage"]
    assert [post.path for post in elsewhere.posts] == [f"/bot{token}/sendMessage"]


async def test_unreachable_destination_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with http_receiver() as receiver:
        dead = receiver.url
    settings = load_settings(alert_webhook_url=f"{dead}/hook")
    message = AlertMessage("resolved", "X", "warning", "s", "d", 1.0, "host", 2.0)
    with caplog.at_level(logging.WARNING):
        assert await Notifier(settings).send(message) == 0
    assert "alert not delivered to webhook" in caplog.text
