"""Build the Dispatcher (routers, middlewares, error mapping) for a runtime."""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import ErrorEvent

from bandwise.bot.errors import reply_for_error
from bandwise.bot.handlers import admin, fallback, history, payments, start, submission
from bandwise.bot.middlewares import RuntimeMiddleware, UpdateCounters, UpdateRecorder
from bandwise.config import Settings
from bandwise.errors import BandwiseError, ConfigurationError, DailyLimitReached
from bandwise.runtime import Runtime

log = logging.getLogger(__name__)


def build_storage(settings: Settings) -> BaseStorage:
    """Return FSM storage: Redis when ``REDIS_URL`` is set (shared by instances), else memory."""
    if settings.redis_url is None:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(settings.redis_url.get_secret_value())


def build_bot(settings: Settings) -> Bot:
    """Return the Bot for ``BOT_TOKEN`` talking to ``TELEGRAM_API_URL``, HTML by default."""
    if settings.bot_token is None:
        raise ConfigurationError("BOT_TOKEN: not set", variable="BOT_TOKEN")
    server = TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=AiohttpSession(api=server),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


async def _on_error(event: ErrorEvent, bot: Bot, runtime: Runtime) -> None:
    error = event.exception
    update = event.update
    chat_id: int | None = None
    if update.message is not None:
        chat_id = update.message.chat.id
    elif update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message else query.from_user.id
    if isinstance(error, DailyLimitReached):  # a refusal, not a failure
        log.info("update %s refused: %s", update.update_id, error)
        reply = reply_for_error(error, runtime.settings)
    elif isinstance(error, BandwiseError):
        log.warning("update %s: %s: %s", update.update_id, type(error).__name__, error)
        reply = reply_for_error(error, runtime.settings)
    else:
        log.error("update %s failed", update.update_id, exc_info=error)
        reply = reply_for_error(BandwiseError(str(error)), runtime.settings)
    if chat_id is not None:
        await bot.send_message(chat_id, reply.text, reply_markup=reply.keyboard)


def build_dispatcher(runtime: Runtime, storage: BaseStorage | None = None) -> Dispatcher:
    """Return a Dispatcher with every router, the middlewares and the error mapping."""
    counters = UpdateCounters()  # dispatcher["counters"]: updates handled, refused, failed
    dispatcher = Dispatcher(storage=storage or MemoryStorage(), counters=counters)
    # Outer middlewares run before filters, so the admin filter can read ``is_admin``.
    dispatcher.update.outer_middleware(UpdateRecorder(counters))
    dispatcher.update.outer_middleware(RuntimeMiddleware(runtime))
    dispatcher.include_routers(
        admin.build_router(),
        start.build_router(),
        payments.build_router(),
        history.build_router(),
        submission.build_router(),
        fallback.build_router(),
    )
    dispatcher.errors.register(_on_error)
    return dispatcher
