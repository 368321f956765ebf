"""The bot's link to the Bot API in /metrics, read from the runtime at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bandwise.runtime import Runtime

LINK_STATES = ("starting", "up", "down", "stopped")


class BotCollector(Collector):
    """Expose the bot's state, failures, webhook registration and rejected webhook posts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Yield the bot's metrics (none when no bot runs in this process)."""
        service = self.runtime.bot
        if service is None:
            return
        link = service.link
        state = link.state().value
        up = GaugeMetricFamily(
            "bandwise_bot_up", "1 while the Bot API answers the bot, else 0.", value=state == "up"
        )
        yield up
        states = GaugeMetricFamily(
            "bandwise_bot_state",
            "The bot's state toward the Bot API (1 for the current one).",
            labels=["state"],
        )
        for name in LINK_STATES:
            states.add_metric([name], 1.0 if name == state else 0.0)
        yield states
        yield CounterMetricFamily(
            "bandwise_bot_api_failures",
            "Bot API requests that failed (network, server error, token, conflict).",
            value=link.failures,
        )
        yield CounterMetricFamily(
            "bandwise_bot_startup_attempts",
            "Attempts to connect (polling) or register the webhook.",
            value=link.attempts,
        )
        if service.mode == "webhook":
            yield GaugeMetricFamily(
                "bandwise_bot_webhook_registered",
                "1 once the webhook is registered with Telegram.",
                value=link.webhook_registered,
            )
        rejected = CounterMetricFamily(
            "bandwise_bot_webhook_rejected",
            "Webhook posts refused, by reason (missing or wrong secret, invalid update).",
            labels=["reason"],
        )
        for reason in ("missing_secret", "wrong_secret", "invalid_update"):
            rejected.add_metric([reason], service.rejected_posts.get(reason, 0))
        yield rejected
