"""Deliver alert messages: a JSON POST to ALERT_WEBHOOK_URL and the admins' Telegram chats.

Telegram is reached through the Bot API's HTTP endpoint (no aiogram here). The endpoint's URL
contains the bot token, so neither URL nor response body is ever logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bandwise.config import Settings

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 5.0


def iso_utc(timestamp: float | None) -> str | None:
    """Return ``timestamp`` (Unix seconds) as ISO-8601 UTC, e.g. ``2026-12-01T00:31:48Z``."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AlertMessage:
    """One notification: an alert firing (first time or as a reminder) or resolved."""

    status: str  # "firing" or "resolved"
    alert: str
    severity: str
    summary: str
    detail: str
    started_at: float
    instance: str
    resolved_at: float | None = None
    reminder: bool = False

    def as_json(self) -> dict[str, Any]:
        """Return the webhook body (times as ISO-8601 UTC)."""
        return {
            "status": self.status,
            "alert": self.alert,
            "severity": self.severity,
            "summary": self.summary,
            "detail": self.detail,
            "started_at": iso_utc(self.started_at),
            "resolved_at": iso_utc(self.resolved_at),
            "reminder": self.reminder,
            "instance": self.instance,
            "source": "bandwise",
        }

    def as_text(self) -> str:
        """Return the Telegram text."""
        if self.status == "resolved":
            mark = "✅ RESOLVED"
            when = f"from {iso_utc(self.started_at)} to {iso_utc(self.resolved_at)}"
        else:
            mark = "🔴 STILL FIRING" if self.reminder else "🔴 FIRING"
            when = f"since {iso_utc(self.started_at)}"
        return f"{mark} {self.alert} ({self.severity})\n{self.summary}\n{self.detail}\n{when}"


@dataclass(frozen=True)
class Destination:
    """Where a message goes: the webhook, or one admin's Telegram chat."""

    kind: str  # "webhook" or "telegram"
    chat_id: int | None = None

    @property
    def label(self) -> str:
        """Return a name safe to show (never a URL: the Bot API's carries the token)."""
        return self.kind if self.chat_id is None else f"{self.kind} {self.chat_id}"

    @classmethod
    def from_label(cls, label: str) -> Destination:
        """Return the destination a ``label`` names (how the outbox table stores it)."""
        kind, _, chat_id = label.partition(" ")
        return cls(kind, int(chat_id) if chat_id else None)


class Notifier:
    """Send alert messages to the configured destinations; failures are returned, not raised."""

    def __init__(self, settings: Settings) -> None:
        self._webhook_url = settings.alert_webhook_url
        self._bot_token = settings.bot_token
        self._admin_ids = list(settings.admin_ids)
        self._telegram_api = settings.resolved_alert_telegram_api_url.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        # httpx logs each request's URL at INFO, and the Bot API URL carries the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))

    @property
    def configured(self) -> bool:
        """Tell whether any destination is configured."""
        return bool(self.destinations())

    def destinations(self) -> tuple[Destination, ...]:
        """Return every configured destination, in delivery order."""
        found: list[Destination] = []
        if self._webhook_url:
            found.append(Destination("webhook"))
        if self._bot_token is not None:
            found.extend(Destination("telegram", chat_id) for chat_id in self._admin_ids)
        return tuple(found)

    async def deliver(self, message: AlertMessage, destination: Destination) -> str | None:
        """Deliver ``message`` to ``destination``; return None when accepted, else why not."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT)
        if destination.kind == "webhook" and self._webhook_url:
            return await self._post(self._client, self._webhook_url, message.as_json())
        if destination.kind == "telegram" and self._bot_token is not None:
            url = f"{self._telegram_api}/bot{self._bot_token.get_secret_value()}/sendMessage"
            body = {"chat_id": destination.chat_id, "text": message.as_text()}
            return await self._post(self._client, url, body)
        return "destination not configured"

    async def send(self, message: AlertMessage) -> int:
        """Deliver ``message`` once to every destination; return how many accepted it."""
        delivered = 0
        try:
            for destination in self.destinations():
                failure = await self.deliver(message, destination)
                if failure is None:
                    delivered += 1
                else:
                    log.warning("alert not delivered to %s: %s", destination.label, failure)
        finally:
            await self.close()
        return delivered

    async def _post(self, client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> str | None:
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as error:
            return type(error).__name__
        if response.status_code >= 300:
            return f"HTTP {response.status_code}"
        return None

    async def close(self) -> None:
        """Close the HTTP client (a later delivery opens a new one)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
