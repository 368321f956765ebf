"""Pro through Telegram Stars: the invoice, the pre-checkout check, recording and refunds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise import events
from bandwise.config import Settings
from bandwise.db.retry import run_transaction
from bandwise.errors import Conflict, DatabaseError, InvalidInput, NotFound
from bandwise.models import Payment, User
from bandwise.repositories import payments, users
from bandwise.wording import plural

log = logging.getLogger(__name__)

STARS = "XTR"
PAYLOAD_PREFIX = "pro:"


@dataclass(frozen=True)
class Invoice:
    """What the bot puts in a Stars invoice for Pro."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int
    days: int


@dataclass(frozen=True)
class PaymentOutcome:
    """The result of recording a successful payment (``recorded`` False: already known)."""

    recorded: bool
    pro_until: datetime


def pro_invoice(settings: Settings) -> Invoice:
    """Return the Pro invoice priced by ``PRO_PRICE_STARS`` for ``PRO_PERIOD_DAYS`` days."""
    days = settings.pro_period_days
    return Invoice(
        title=f"bandwise Pro — {plural(days, 'day')}",
        description=(
            f"Unlimited essay checks for {plural(days, 'day')}"
            if settings.pro_daily_limit is None
            else f"{settings.pro_daily_limit} essay checks a day for {plural(days, 'day')}"
        ),
        payload=f"{PAYLOAD_PREFIX}{days}",
        currency=STARS,
        amount=settings.pro_price_stars,
        days=days,
    )


def check_pre_checkout(settings: Settings, payload: str, currency: str, amount: int) -> None:
    """Accept a pre-checkout query for the current Pro invoice, or raise InvalidInput."""
    expected = pro_invoice(settings)
    if currency != STARS:
        raise InvalidInput(f"currency {currency!r} is not Telegram Stars", field="currency")
    if payload != expected.payload:
        raise InvalidInput("this invoice is out of date; ask for a new one", field="payload")
    if amount != expected.amount:
        raise InvalidInput(
            f"amount {amount} does not match the price {expected.amount}", field="total_amount"
        )


def _days_from_payload(payload: str) -> int:
    if not payload.startswith(PAYLOAD_PREFIX) or not payload[len(PAYLOAD_PREFIX) :].isdigit():
        raise InvalidInput(f"unknown invoice payload {payload!r}", field="invoice_payload")
    return int(payload[len(PAYLOAD_PREFIX) :])


async def record_payment(
    sessions: async_sessionmaker[AsyncSession],
    *,
    telegram_id: int,
    charge_id: str,
    provider_charge_id: str | None,
    currency: str,
    amount: int,
    payload: str,
    now: datetime,
    username: str | None = None,
    first_name: str | None = None,
    retry_attempts: int = 3,
) -> PaymentOutcome:
    """Record a successful payment once and extend the user's Pro period by its days.

    Delivered twice (Telegram redelivers updates), the second call records nothing and
    leaves Pro unchanged, so the transaction may be retried. A payment that cannot be
    recorded is logged with everything needed to record it by hand (Telegram will not
    deliver it again).
    """
    if currency != STARS:
        raise InvalidInput(f"currency {currency!r} is not Telegram Stars", field="currency")
    days = _days_from_payload(payload)

    async def record(session: AsyncSession) -> PaymentOutcome:
        user = await users.get_or_create(session, telegram_id, username, first_name)
        start = user.pro_until if user.pro_until is not None and user.pro_until > now else now
        until = start + timedelta(days=days)
        inserted = await payments.insert_once(
            session,
            user_id=user.id,
            telegram_payment_charge_id=charge_id,
            provider_payment_charge_id=provider_charge_id,
            currency=currency,
            amount=amount,
            invoice_payload=payload,
            pro_days=days,
            pro_until=until,
            paid_at=now,
        )
        if inserted is None:
            existing = await payments.get_by_charge_id(session, charge_id)
            assert existing is not None
            return PaymentOutcome(recorded=False, pro_until=user.pro_until or existing.pro_until)
        await users.set_pro_until(session, user.id, until)
        return PaymentOutcome(recorded=True, pro_until=until)

    try:
        outcome = await run_transaction(sessions, record, attempts=retry_attempts)
    except DatabaseError:
        log.critical(
            "payment NOT recorded, record it by hand: telegram_id=%s charge_id=%s "
            "amount=%s %s payload=%s",
            telegram_id,
            charge_id,
            amount,
            currency,
            payload,
        )
        raise
    events.emit(events.PaymentHandled("succeeded" if outcome.recorded else "duplicate"))
    return outcome


Refunder = Callable[[int, str], Awaitable[object]]


async def refund_payment(
    sessions: async_sessionmaker[AsyncSession], charge_id: str, refund: Refunder, now: datetime
) -> Payment:
    """Refund a payment through ``refund(telegram_id, charge_id)`` and take its Pro days back.

    Raises NotFound for an unknown charge and Conflict for one already refunded. Never
    retried: the refund must not be asked of Telegram twice.
    """

    async def take_back(session: AsyncSession) -> Payment:
        payment = await payments.get_by_charge_id(session, charge_id)
        if payment is None:
            raise NotFound(f"no payment with charge id {charge_id}")
        if payment.refunded_at is not None:
            raise Conflict(
                f"payment {charge_id} was already refunded on "
                f"{payment.refunded_at:%Y-%m-%d %H:%M} UTC"
            )
        user = await session.get(User, payment.user_id)
        assert user is not None
        await refund(user.telegram_id, charge_id)
        await payments.mark_refunded(session, payment.id, now)
        if user.pro_until is not None:
            remaining = user.pro_until - timedelta(days=payment.pro_days)
            await users.set_pro_until(session, user.id, remaining if remaining > now else None)
        payment.refunded_at = now
        return payment

    payment = await run_transaction(sessions, take_back, retry=False)
    events.emit(events.PaymentHandled("refunded"))
    return payment


async def set_pro_flag(
    sessions: async_sessionmaker[AsyncSession],
    telegram_id: int,
    enabled: bool,
    *,
    retry_attempts: int = 3,
) -> User:
    """Grant (or revoke) permanent Pro for ``telegram_id``, creating the user if new."""

    async def switch(session: AsyncSession) -> User:
        user = await users.get_or_create(session, telegram_id)
        await users.set_pro(session, user.id, enabled)
        user.is_pro = enabled
        return user

    return await run_transaction(sessions, switch, attempts=retry_attempts)
