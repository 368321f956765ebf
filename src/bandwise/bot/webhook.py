"""POST <BOT_WEBHOOK_PATH>: Telegram updates in webhook mode, served by the HTTP service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException

from bandwise.api.deps import RuntimeDep
from bandwise.bot.service import BotMode, bot_service_of


def build_webhook_router(path: str) -> APIRouter:
    """Return the router receiving Telegram updates at ``path``."""
    router = APIRouter(tags=["telegram"])

    @router.post(path, include_in_schema=False)
    async def telegram_webhook(
        payload: dict[str, Any],
        runtime: RuntimeDep,
        x_telegram_bot_api_secret_token: str | None = Header(default=None),
    ) -> dict[str, bool]:
        """Verify the secret token and hand the update to the Dispatcher."""
        service = bot_service_of(runtime)
        if service is None or service.mode is not BotMode.WEBHOOK:
            raise HTTPException(status_code=404, detail="the bot is not in webhook mode")
        if not service.verify_secret(x_telegram_bot_api_secret_token):
            raise HTTPException(status_code=401, detail="wrong or missing secret token")
        service.accept_webhook_update(payload)
        return {"ok": True}

    return router
