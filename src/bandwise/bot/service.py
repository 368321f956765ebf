"""Run the bot inside a process: polling (default) or webhook mode, with a graceful stop.

Start-up never waits for Telegram: polling connects (getMe, deleteWebhook) and webhook mode
registers its URL in a background task that retries with capped backoff, forever, logging
each attempt; ``TelegramLink`` tells readiness and metrics where the bot stands. A stop
stops taking updates, lets those in flight finish within the grace period, cancels the rest
(their checks are given back) and closes the storage and the HTTP session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.types import TelegramObject, Update
from pydantic import ValidationError

from bandwise.bot.dispatcher import build_bot, build_dispatcher, build_storage
from bandwise.bot.link import LinkObserver, TelegramLink
from bandwise.config import Settings, check_webhook_settings
from bandwise.errors import ConfigurationError, InvalidInput, OperationFailed
from bandwise.runtime import Runtime, open_runtime, stop_on_signals

log = logging.getLogger(__name__)
TELEGRAM_CALL_TIMEOUT = 10.0  # one start-up call must not hang on an unreachable Telegram
RETRY_FIRST_DELAY = 1.0
RETRY_MAX_DELAY = 30.0  # the cap of the start-up backoff
CANCELLED_WAIT = 10.0  # how long cancelled updates get to give their checks back


class BotMode(StrEnum):
    """How updates reach the bot."""

    POLLING = "polling"
    WEBHOOK = "webhook"


def retry_delays(first: float = RETRY_FIRST_DELAY, cap: float = RETRY_MAX_DELAY) -> Iterator[float]:
    """Yield doubling delays from ``first`` up to ``cap``, forever."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


class _InFlight(BaseMiddleware):
    """Track the task handling each update, so a stop can wait for it."""

    def __init__(self, tasks: set[asyncio.Task[Any]]) -> None:
        self.tasks = tasks

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Register the current task while the update is handled."""
        task = asyncio.current_task()
        if task is None:
            return await handler(event, data)
        self.tasks.add(task)
        try:
            return await handler(event, data)
        finally:
            self.tasks.discard(task)


class BotService:
    """The bot of one process: its Dispatcher, its Bot, its link and the updates in flight."""

    def __init__(self, runtime: Runtime, bot: Bot, dispatcher: Dispatcher) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.bot = bot
        self.dispatcher = dispatcher
        self.mode = BotMode.WEBHOOK if settings.webhook_url else BotMode.POLLING
        self.link = TelegramLink(startup_seconds=settings.bot_startup_seconds)
        self.connected = asyncio.Event()  # set once the Bot API answered start-up
        self.stopping = False
        self.rejected_posts: dict[str, int] = {}  # webhook posts refused, by reason
        bot.session.middleware(LinkObserver(self.link))
        self._in_flight: set[asyncio.Task[Any]] = set()
        dispatcher.update.outer_middleware(_InFlight(self._in_flight))
        self.retry_first_delay, self.retry_max_delay = RETRY_FIRST_DELAY, RETRY_MAX_DELAY
        self._runner: asyncio.Task[None] | None = None
        self._polling = False

    async def start(self) -> None:
        """Start connecting (polling) or registering the webhook, in the background."""
        work = self._register_webhook() if self.mode is BotMode.WEBHOOK else self._poll()
        self._runner = asyncio.create_task(work, name=f"bandwise-bot-{self.mode.value}")

    async def _until_done(self, step: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``step`` until it succeeds, with capped backoff, logging each failed attempt."""
        delays = retry_delays(self.retry_first_delay, self.retry_max_delay)
        while True:
            self.link.attempts += 1
            try:
                await asyncio.wait_for(step(), TELEGRAM_CALL_TIMEOUT)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                delay = next(delays)
                self.link.failed(error)
                log.warning(
                    "%s failed (attempt %d): %s: %s; retrying in %.0f s",
                    what,
                    self.link.attempts,
                    type(error).__name__,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _register_webhook(self) -> None:
        settings = self.runtime.settings
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        allowed = self.dispatcher.resolve_used_update_types()
        secret = settings.webhook_secret.get_secret_value()
        url = settings.webhook_url

        async def register() -> None:
            await self.bot.set_webhook(url, allowed_updates=allowed, secret_token=secret)

        await self._until_done(register, "webhook registration")
        self.link.webhook_registered = True
        self.connected.set()
        log.info("bot in webhook mode at %s", url)

    async def _poll(self) -> None:
        async def connect() -> None:
            await self.bot.me()  # polling needs it; a wrong token fails here
            # getUpdates is refused while a webhook is registered (e.g. after webhook mode).
            await self.bot.delete_webhook(drop_pending_updates=False)

        await self._until_done(connect, "connecting to the Telegram Bot API")
        self.connected.set()
        allowed = self.dispatcher.resolve_used_update_types()
        delays = retry_delays(self.retry_first_delay, self.retry_max_delay)
        while not self.stopping:
            self._polling = True
            try:
                log.info("bot polling started")
                # aiogram retries getUpdates itself (capped backoff, each attempt logged).
                await self.dispatcher.start_polling(
                    self.bot, handle_signals=False, close_bot_session=False, allowed_updates=allowed
                )
                return
            except Exception as error:  # never leave the bot silent: poll again
                self.link.failed(error)
                delay = next(delays)
                log.error("bot polling stopped with an error: %s; again in %.0f s", error, delay)
            finally:
                self._polling = False
            await asyncio.sleep(delay)

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the Bot API answered start-up, or raise OperationFailed after ``timeout``."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            raise OperationFailed(
                f"the bot could not reach the Telegram Bot API at "
                f"{self.runtime.settings.telegram_api_url} within {timeout:g} s "
                f"(BOT_STARTUP_SECONDS): {self.link.last_error or 'no answer'}"
            ) from None

    def verify_secret(self, token: str | None) -> bool:
        """Tell whether a webhook request carries the configured secret token (counts refusals)."""
        secret = self.runtime.settings.webhook_secret
        reason = None
        if token is None:
            reason = "missing_secret"
        elif secret is None or not hmac.compare_digest(
            token.encode(), secret.get_secret_value().encode()
        ):
            reason = "wrong_secret"
        if reason is None:
            return True
        self._reject(reason)
        return False

    def _reject(self, reason: str) -> None:
        self.rejected_posts[reason] = self.rejected_posts.get(reason, 0) + 1
        log.warning("webhook post rejected: %s", reason.replace("_", " "))

    async def handle_webhook_update(self, payload: dict[str, Any]) -> None:
        """Handle one webhook update; return once handled or after BOT_WEBHOOK_ACK_SECONDS.

        Telegram's answer waits for the handling, so an instance killed mid-update never
        acknowledged it and Telegram delivers it again (to another instance behind the proxy).
        """
        task = self.accept_webhook_update(payload)
        # asyncio.wait never cancels the task: past the bound, or when the request itself is
        # cancelled, the update goes on in the background (and a stop drains it).
        await asyncio.wait({task}, timeout=self.runtime.settings.bot_webhook_ack_seconds)

    def accept_webhook_update(self, payload: dict[str, Any]) -> asyncio.Task[Any]:
        """Validate one webhook update and start handling it in the background."""
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValidationError as error:
            self._reject("invalid_update")
            raise InvalidInput(
                f"not a Telegram update: {error.errors()[0]['msg']}", field="body"
            ) from error
        task = asyncio.create_task(self.dispatcher.feed_update(self.bot, update))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    def _grace_left(self) -> float:
        """Return what is left of the grace period counted from the stop signal."""
        grace = self.runtime.settings.shutdown_grace_seconds
        requested = self.runtime.stop_requested_at
        if requested is None:
            return grace
        return max(0.0, grace - (time.monotonic() - requested))

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for updates in flight (at most the grace period); cancel those still running."""
        pending = set(self._in_flight)
        if not pending:
            return
        log.info("waiting for %d update(s) in flight", len(pending))
        _, still = await asyncio.wait(
            pending, timeout=self._grace_left() if timeout is None else timeout
        )
        if not still:
            return
        log.warning(
            "%d update(s) did not finish within the grace period; cancelling them "
            "(their checks are given back)",
            len(still),
        )
        for task in still:
            task.cancel()
        await asyncio.wait(still, timeout=CANCELLED_WAIT)

    async def stop(self) -> None:
        """Stop taking updates, finish those in flight, close storage and the HTTP session."""
        self.stopping = True
        if self._polling:
            with contextlib.suppress(RuntimeError):  # polling had not started yet
                await self.dispatcher.stop_polling()
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        await self.drain()
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        self.link.stopped = True
        log.info("bot stopped")


async def start_bot_service(runtime: Runtime, bot: Bot | None = None) -> BotService:
    """Build the bot for ``runtime``, make it ``runtime.bot`` and start it (in the background)."""
    check_webhook_settings(runtime.settings)
    service = BotService(
        runtime,
        bot or build_bot(runtime.settings),
        build_dispatcher(runtime, build_storage(runtime.settings)),
    )
    runtime.bot = service
    await service.start()
    return service


async def run_bot(settings: Settings) -> None:
    """Run the bot alone (polling, no HTTP service) until SIGINT or SIGTERM.

    Exits with OperationFailed when the Bot API does not answer within BOT_STARTUP_SECONDS,
    so a restart policy can act.
    """
    if settings.bot_token is None:
        raise ConfigurationError(
            "BOT_TOKEN: not set; the bot needs its token", variable="BOT_TOKEN"
        )
    if settings.webhook_url:
        raise ConfigurationError(
            "WEBHOOK_URL: webhook mode is served by `bandwise serve`", variable="WEBHOOK_URL"
        )
    stop = asyncio.Event()
    with stop_on_signals(stop.set):
        async with open_runtime(settings, with_bot=True) as runtime:
            assert runtime.bot is not None
            starting = asyncio.create_task(runtime.bot.wait_connected(settings.bot_startup_seconds))
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if starting.done():
                    starting.result()  # raises OperationFailed past the start-up window
                    log.info("bot running; SIGTERM or SIGINT stops it")
                    await stopped
            finally:
                starting.cancel()
                stopped.cancel()
                runtime.stop_requested_at = time.monotonic()
