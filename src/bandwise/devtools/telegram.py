"""A bot whose session records every request instead of calling Telegram, and update builders.

Only Telegram is imitated here: the Dispatcher, routers, filters, FSM and handlers under test
are the real ones. Each request is answered with a plausible result for its return type.
Used by the bot tests, the load harness's bot driver and the bot runner process.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    Message,
    PreCheckoutQuery,
    SuccessfulPayment,
    Update,
    User,
)

BOT_TOKEN = "123456:TEST-token-for-recording-session"  # noqa: S105 (not a secret: no Telegram)


class RecordingSession(BaseSession):
    """A session that keeps every method the bot sends and answers it locally."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.pending_updates: list[Update] = []
        self._message_ids = itertools.count(1000)

    async def close(self) -> None:
        """Nothing to close."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        """Record ``method`` and return a result of the type Telegram would return."""
        if isinstance(method, GetUpdates):
            # Long polling: hand over queued updates, or wait a little like Telegram would.
            if not self.pending_updates:
                await asyncio.sleep(0.05)
            taken, self.pending_updates = self.pending_updates, []
            return taken
        self.requests.append(method)
        returning = method.__returning__
        if returning is User:
            return User(id=bot.id, is_bot=True, first_name="bandwise", username="bandwise_bot")
        if returning is bool:
            return True
        if returning is Message:
            chat_id = getattr(method, "chat_id", 0)
            return Message(
                message_id=next(self._message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=int(chat_id), type="private"),
                text=getattr(method, "text", None),
            )
        raise AssertionError(f"the recording session cannot answer {type(method).__name__}")

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Streaming is not used by the bot."""
        raise AssertionError("stream_content is not expected")
        yield b""  # pragma: no cover

    def take(self) -> list[TelegramMethod[Any]]:
        """Return the requests recorded since the last call and forget them."""
        taken, self.requests = self.requests, []
        return taken


def recording_bot() -> tuple[Bot, RecordingSession]:
    """Return a bot wired to a new recording session."""
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    return bot, session


class Candidate:
    """Builds the updates one Telegram user would send."""

    _update_ids = itertools.count(1)
    _message_ids = itertools.count(1)

    def __init__(
        self, telegram_id: int = 7001, first_name: str = "Anna", username: str | None = "anna"
    ) -> None:
        self.user = User(id=telegram_id, is_bot=False, first_name=first_name, username=username)
        self.chat = Chat(id=telegram_id, type="private")

    def _message(self, **fields: Any) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            **fields,
        )

    def text(self, text: str) -> Update:
        """Return an update carrying a text message."""
        return Update(update_id=next(self._update_ids), message=self._message(text=text))

    def message(self, **fields: Any) -> Update:
        """Return an update carrying a message with arbitrary fields (photo, sticker, …)."""
        return Update(update_id=next(self._update_ids), message=self._message(**fields))

    def press(self, data: str) -> Update:
        """Return an update for pressing an inline button with callback ``data``."""
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=self.user,
            chat_instance="ci",
            data=data,
            message=self._message(text="(button message)"),
        )
        return Update(update_id=next(self._update_ids), callback_query=query)

    def pre_checkout(self, payload: str, amount: int, currency: str = "XTR") -> Update:
        """Return a pre-checkout query for an invoice."""
        query = PreCheckoutQuery(
            id="pcq-1",
            from_user=self.user,
            currency=currency,
            total_amount=amount,
            invoice_payload=payload,
        )
        return Update(update_id=next(self._update_ids), pre_checkout_query=query)

    def paid(
        self, payload: str, amount: int, charge_id: str, update_id: int | None = None
    ) -> Update:
        """Return a successful-payment message (pass ``update_id`` to redeliver the same one)."""
        payment = SuccessfulPayment(
            currency="XTR",
            total_amount=amount,
            invoice_payload=payload,
            telegram_payment_charge_id=charge_id,
            provider_payment_charge_id="",
        )
        return Update(
            update_id=update_id or next(self._update_ids),
            message=self._message(successful_payment=payment),
        )
