"""Middlewares: hand the runtime to handlers and record how each update was handled."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bandwise import events
from bandwise.errors import DailyLimitReached
from bandwise.runtime import Runtime

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass
class UpdateCounters:
    """How many updates were handled, refused (daily limit) and failed, by event type."""

    handled: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


class RuntimeMiddleware(BaseMiddleware):
    """Put ``runtime``, ``settings`` and ``is_admin`` into every handler's arguments."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.admins = frozenset(runtime.settings.admin_ids)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Add the runtime to ``data`` and call the handler."""
        data["runtime"] = self.runtime
        data["settings"] = self.runtime.settings
        user = data.get("event_from_user")
        data["is_admin"] = user is not None and user.id in self.admins
        return await handler(event, data)


class UpdateRecorder(BaseMiddleware):
    """Log each update's type, outcome and duration, and count them (no message content)."""

    def __init__(self, counters: UpdateCounters) -> None:
        self.counters = counters

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Time the handling of one update."""
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        started = time.monotonic()
        try:
            result = await handler(event, data)
        except DailyLimitReached:  # answered with the limit message: a refusal, not a failure
            self.counters.refused[kind] = self.counters.refused.get(kind, 0) + 1
            events.emit(events.BotUpdateHandled(kind, time.monotonic() - started, refused=True))
            raise
        except Exception:
            self.counters.failed[kind] = self.counters.failed.get(kind, 0) + 1
            events.emit(events.BotUpdateHandled(kind, time.monotonic() - started, succeeded=False))
            log.info("update %s failed after %.3f s", kind, time.monotonic() - started)
            raise
        self.counters.handled[kind] = self.counters.handled.get(kind, 0) + 1
        events.emit(events.BotUpdateHandled(kind, time.monotonic() - started))
        log.debug("update %s handled in %.3f s", kind, time.monotonic() - started)
        return result
