"""POST <BOT_WEBHOOK_PATH>: Telegram updates in webhook mode, handed to the runtime's bot.

The route reads ``runtime.bot``; it imports nothing from the bot package at run time, so
the API does not depend on aiogram unless a bot runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException

from bandwise.api.deps import RuntimeDep


def build_webhook_router(path: str) -> APIRouter:
    """Return the router receiving Telegram updates at ``path``."""
    router = APIRouter(tags=["telegram"])

    @router.post(path, include_in_schema=False)
    async def telegram_webhook(
        payload: dict[str, Any],
        runtime: RuntimeDep,
        x_telegram_bot_api_secret_token: str | None = Header(default=None),
    ) -> dict[str, bool]:
        """Verify the secret token and answer once the Dispatcher has handled the update."""
        service = runtime.bot
        if service is None or service.mode != "webhook":
            raise HTTPException(status_code=404, detail="the bot is not in webhook mode")
        if not service.verify_secret(x_telegram_bot_api_secret_token):
            raise HTTPException(status_code=401, detail="wrong or missing secret token")
        if service.stopping:  # Telegram delivers it again, to the next instance
            raise HTTPException(status_code=503, detail="the bot is stopping")
        await service.handle_webhook_update(payload)
        return {"ok": True}

    return router
