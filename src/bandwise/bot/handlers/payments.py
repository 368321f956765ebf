"""Pro through Telegram Stars: invoice, pre-checkout answer, successful payment."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from bandwise.bot import keyboards, texts
from bandwise.errors import InvalidInput, MaintenanceMode
from bandwise.models import utcnow
from bandwise.runtime import Runtime
from bandwise.services.payments import (
    check_pre_checkout,
    pro_invoice,
    record_payment,
)

log = logging.getLogger(__name__)


async def _send_invoice(bot: Bot, chat_id: int, runtime: Runtime) -> None:
    invoice = pro_invoice(runtime.settings)
    await bot.send_invoice(
        chat_id=chat_id,
        title=invoice.title,
        description=invoice.description,
        payload=invoice.payload,
        currency=invoice.currency,
        prices=[LabeledPrice(label=invoice.title, amount=invoice.amount)],
    )


async def upgrade_command(message: Message, bot: Bot, runtime: Runtime) -> None:
    """Send the Pro invoice."""
    await _send_invoice(bot, message.chat.id, runtime)


async def pro_command_for_candidates(message: Message, bot: Bot, runtime: Runtime) -> None:
    """Send the Pro invoice to candidates (admins' /pro is handled by the admin router)."""
    await _send_invoice(bot, message.chat.id, runtime)


async def buy_button(callback: CallbackQuery, bot: Bot, runtime: Runtime) -> None:
    """Send the Pro invoice from the button under the limit message."""
    await callback.answer()
    chat_id = callback.message.chat.id if callback.message else callback.from_user.id
    await _send_invoice(bot, chat_id, runtime)


async def pre_checkout(query: PreCheckoutQuery, runtime: Runtime) -> None:
    """Accept the payment only for the current invoice and price, and not during maintenance.

    A payment confirmed during a cutover's write freeze would be written to the old database.
    """
    try:
        check_pre_checkout(
            runtime.settings, query.invoice_payload, query.currency, query.total_amount
        )
        async with runtime.write_guard():
            pass
    except (InvalidInput, MaintenanceMode) as error:
        await query.answer(
            ok=False, error_message=texts.PRE_CHECKOUT_REFUSED.format(reason=error.message)
        )
        return
    await query.answer(ok=True)


async def successful_payment(message: Message, runtime: Runtime) -> None:
    """Record the payment once and confirm the Pro period."""
    payment = message.successful_payment
    user = message.from_user
    assert payment is not None
    telegram_id = user.id if user else message.chat.id

    outcome = await record_payment(
        runtime.sessions,
        telegram_id=telegram_id,
        charge_id=payment.telegram_payment_charge_id,
        provider_charge_id=payment.provider_payment_charge_id or None,
        currency=payment.currency,
        amount=payment.total_amount,
        payload=payment.invoice_payload,
        now=utcnow(),
        username=user.username if user else None,
        first_name=user.first_name if user else None,
        retry_attempts=runtime.settings.db_retry_attempts,
    )
    template = texts.PAYMENT_THANKS if outcome.recorded else texts.PAYMENT_ALREADY
    await message.answer(template.format(until=texts.utc(outcome.pro_until)))


def build_router() -> Router:
    """Return a new router with this module's handlers (one per dispatcher)."""
    router = Router(name="payments")
    router.message.register(upgrade_command, Command("upgrade"))
    router.message.register(pro_command_for_candidates, Command("pro"))
    router.callback_query.register(buy_button, F.data == keyboards.CB_BUY_PRO)
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(successful_payment, F.successful_payment)
    return router
