"""Deliver alert messages: a JSON POST to ALERT_WEBHOOK_URL and the admins' Telegram chats.

Telegram is reached through the Bot API's HTTP endpoint (no aiogram here). The endpoint's URL
contains the bot token, so neither URL nor response body is ever logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bandwise.config import Settings

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class AlertMessage:
    """One notification: an alert firing or resolved."""

    status: str  # "firing" or "resolved"
    alert: str
    severity: str
    summary: str
    detail: str
    started_at: float
    instance: str
    resolved_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the webhook body."""
        return {
            "status": self.status,
            "alert": self.alert,
            "severity": self.severity,
            "summary": self.summary,
            "detail": self.detail,
            "started_at": self.started_at,
            "resolved_at": self.resolved_at,
            "instance": self.instance,
            "source": "bandwise",
        }

    def as_text(self) -> str:
        """Return the Telegram text."""
        mark = "🔴 FIRING" if self.status == "firing" else "✅ RESOLVED"
        return f"{mark} {self.alert} ({self.severity})\n{self.summary}\n{self.detail}"


class Notifier:
    """Send alert messages to every configured destination; failures are logged, not raised."""

    def __init__(self, settings: Settings) -> None:
        self._webhook_url = settings.alert_webhook_url
        self._bot_token = settings.bot_token
        self._admin_ids = list(settings.admin_ids)
        self._telegram_api = settings.alert_telegram_api_url.rstrip("/")
        # httpx logs each request's URL at INFO, and the Bot API URL carries the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))

    @property
    def configured(self) -> bool:
        """Tell whether any destination is configured."""
        return bool(self._webhook_url) or (self._bot_token is not None and bool(self._admin_ids))

    async def send(self, message: AlertMessage) -> int:
        """Deliver ``message``; return how many destinations accepted it."""
        delivered = 0
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT) as client:
            if self._webhook_url:
                delivered += await self._post(
                    client, self._webhook_url, message.as_json(), "webhook"
                )
            if self._bot_token is not None:
                url = f"{self._telegram_api}/bot{self._bot_token.get_secret_value()}/sendMessage"
                for chat_id in self._admin_ids:
                    body = {"chat_id": chat_id, "text": message.as_text()}
                    delivered += await self._post(client, url, body, "telegram")
        return delivered

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: dict[str, Any], kind: str
    ) -> int:
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError as error:
            log.warning("alert not delivered to %s: %s", kind, type(error).__name__)
            return 0
        if response.status_code >= 300:
            log.warning("alert not delivered to %s: HTTP %d", kind, response.status_code)
            return 0
        return 1
