"""The bot's link to the Bot API as readiness and metrics see it: up, down, or still starting.

``LinkObserver`` sits in the Bot's session and records the outcome of every request, so
polling, replies and webhook registration all keep the state current. Any answer from
Telegram (even a refusal about one chat) proves the link; network failures, server errors,
a rejected token or a conflicting poller do not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

LINK_FAILURES = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
    TelegramConflictError,
    TimeoutError,
    OSError,
)


class LinkState(StrEnum):
    """Where the bot stands with the Bot API."""

    STARTING = "starting"  # no answer yet, within the start-up grace period
    UP = "up"
    DOWN = "down"
    STOPPED = "stopped"


@dataclass
class TelegramLink:
    """The bot's state toward the Bot API, with counters for metrics."""

    startup_seconds: float
    started_at: float = field(default_factory=time.monotonic)
    answered: bool = False  # the Bot API answered at least once
    failing: bool = False
    last_error: str | None = None
    failures: int = 0
    attempts: int = 0  # start-up attempts (getMe, deleteWebhook / setWebhook)
    webhook_registered: bool = False
    stopped: bool = False

    def succeeded(self) -> None:
        """Record an answer from the Bot API."""
        self.answered = True
        self.failing = False

    def failed(self, error: BaseException) -> None:
        """Record a request that did not reach (or was refused by) the Bot API."""
        self.failing = True
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"[:300]

    def state(self, now: float | None = None) -> LinkState:
        """Return the state now (a link never answered counts as down after the grace period)."""
        if self.stopped:
            return LinkState.STOPPED
        if self.answered and not self.failing:
            return LinkState.UP
        moment = time.monotonic() if now is None else now
        if not self.answered and moment - self.started_at < self.startup_seconds:
            return LinkState.STARTING
        return LinkState.DOWN

    def describe(self) -> str:
        """Return one line for readiness and logs."""
        state = self.state()
        if state is LinkState.DOWN or (state is LinkState.STARTING and self.last_error):
            return f"{state.value}: {self.last_error or 'no answer from the Bot API yet'}"
        return state.value


class LinkObserver(BaseRequestMiddleware):
    """Record the outcome of every Bot API request in a ``TelegramLink``."""

    def __init__(self, link: TelegramLink) -> None:
        self.link = link

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Pass the request on and note whether the Bot API answered."""
        try:
            response: Any = await make_request(bot, method)
        except LINK_FAILURES as error:
            self.link.failed(error)
            raise
        except Exception:
            self.link.succeeded()  # Telegram answered, refusing this one request
            raise
        self.link.succeeded()
        return response  # type: ignore[no-any-return]
