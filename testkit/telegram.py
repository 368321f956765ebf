"""Telegram update builders for tests, on the package's in-process Bot API session.

Only Telegram is imitated: the Dispatcher, routers, filters, FSM and handlers under test are
the real ones, and the session is the one `bandwise bot try` uses
(``bandwise.bot.terminal.RecordingSession``). Used by the bot tests, the load harness's bot
driver and the bot runner process.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import PreCheckoutQuery, SuccessfulPayment, Update

from bandwise.bot.terminal import ChatUser, RecordingSession, recording_bot

__all__ = ["Candidate", "RecordingSession", "recording_bot"]


class Candidate(ChatUser):
    """Builds every update one Telegram user sends: also other messages and payments."""

    def message(self, **fields: Any) -> Update:
        """Return an update carrying a message with arbitrary fields (photo, sticker, …)."""
        return Update(update_id=self.next_update_id(), message=self.new_message(**fields))

    def pre_checkout(self, payload: str, amount: int, currency: str = "XTR") -> Update:
        """Return a pre-checkout query for an invoice."""
        query = PreCheckoutQuery(
            id="pcq-1",
            from_user=self.user,
            currency=currency,
            total_amount=amount,
            invoice_payload=payload,
        )
        return Update(update_id=self.next_update_id(), pre_checkout_query=query)

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
            update_id=update_id or self.next_update_id(),
            message=self.new_message(successful_payment=payment),
        )
