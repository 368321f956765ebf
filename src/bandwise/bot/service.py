"""Run the bot inside a process: polling (default) or webhook mode, with a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from enum import StrEnum
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import ValidationError

from bandwise.bot.dispatcher import build_bot, build_dispatcher, build_storage
from bandwise.config import Settings, check_webhook_settings
from bandwise.errors import ConfigurationError, InvalidInput
from bandwise.runtime import Runtime, start_runtime

log = logging.getLogger(__name__)
RUNTIME_KEY = "bot_service"
DRAIN_SECONDS = 30.0
TELEGRAM_CALL_TIMEOUT = 10.0  # start-up must not hang on an unreachable Telegram


class BotMode(StrEnum):
    """How updates reach the bot."""

    POLLING = "polling"
    WEBHOOK = "webhook"


class BotService:
    """The bot of one process: its Dispatcher, its Bot and the updates in flight."""

    def __init__(self, runtime: Runtime, bot: Bot, dispatcher: Dispatcher) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.bot = bot
        self.dispatcher = dispatcher
        self.mode = BotMode.WEBHOOK if settings.webhook_url else BotMode.POLLING
        self._polling: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Register the webhook, or start polling in a background task."""
        settings = self.runtime.settings
        allowed = self.dispatcher.resolve_used_update_types()
        if self.mode is BotMode.WEBHOOK:
            assert settings.webhook_url is not None and settings.webhook_secret is not None
            await self.bot.set_webhook(
                settings.webhook_url,
                allowed_updates=allowed,
                secret_token=settings.webhook_secret.get_secret_value(),
            )
            log.info("bot in webhook mode at %s", settings.webhook_url)
            return
        try:
            # getUpdates is refused while a webhook is registered (e.g. after webhook mode).
            await asyncio.wait_for(
                self.bot.delete_webhook(drop_pending_updates=False), TELEGRAM_CALL_TIMEOUT
            )
        except Exception as error:
            log.warning("could not remove the webhook before polling: %s", error)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=False, allowed_updates=allowed
            )
        )
        self._polling.add_done_callback(_report_polling_end)
        log.info("bot polling started")

    def verify_secret(self, token: str | None) -> bool:
        """Tell whether a webhook request carries the configured secret token."""
        secret = self.runtime.settings.webhook_secret
        if secret is None or token is None:
            return False
        return hmac.compare_digest(token.encode(), secret.get_secret_value().encode())

    def accept_webhook_update(self, payload: dict[str, Any]) -> None:
        """Validate one webhook update and handle it in the background (Telegram gets 200 now)."""
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValidationError as error:
            raise InvalidInput(
                f"not a Telegram update: {error.errors()[0]['msg']}", field="body"
            ) from error
        task = asyncio.create_task(self.dispatcher.feed_update(self.bot, update))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        """Wait (at most DRAIN_SECONDS) for webhook updates still being handled."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=DRAIN_SECONDS)

    async def stop(self) -> None:
        """Stop polling, finish updates in flight, and close storage and the HTTP session."""
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):  # polling had not started, or crashed
                await self.dispatcher.stop_polling()
            # asyncio.wait never raises the task's own error (already logged when it ended).
            await asyncio.wait({self._polling}, timeout=DRAIN_SECONDS)
            if not self._polling.done():
                self._polling.cancel()
        await self.drain()
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        log.info("bot stopped")


def _report_polling_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("bot polling stopped with an error: %s", error, exc_info=error)


async def start_bot_service(runtime: Runtime, bot: Bot | None = None) -> BotService:
    """Build and start the bot for ``runtime`` and remember it in ``runtime.extras``."""
    check_webhook_settings(runtime.settings)
    service = BotService(
        runtime,
        bot or build_bot(runtime.settings),
        build_dispatcher(runtime, build_storage(runtime.settings)),
    )
    await service.start()
    runtime.extras[RUNTIME_KEY] = service
    return service


def bot_service_of(runtime: Runtime) -> BotService | None:
    """Return the runtime's bot service, if the bot runs in this process."""
    service = runtime.extras.get(RUNTIME_KEY)
    return service if isinstance(service, BotService) else None


async def run_bot(settings: Settings) -> None:
    """Run the bot alone (polling, no HTTP service) until SIGINT or SIGTERM."""
    if settings.bot_token is None:
        raise ConfigurationError(
            "BOT_TOKEN: not set; the bot needs its token", variable="BOT_TOKEN"
        )
    if settings.webhook_url:
        raise ConfigurationError(
            "WEBHOOK_URL: webhook mode is served by `bandwise serve`", variable="WEBHOOK_URL"
        )
    runtime = await start_runtime(settings)
    try:
        service = await start_bot_service(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await service.stop()
    finally:
        await runtime.close()
