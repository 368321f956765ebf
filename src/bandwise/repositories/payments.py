"""Queries on ``payments``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import Payment
from bandwise.repositories.dialect import upsert_insert


async def insert_once(
    session: AsyncSession,
    *,
    user_id: int,
    telegram_payment_charge_id: str,
    provider_payment_charge_id: str | None,
    currency: str,
    amount: int,
    invoice_payload: str,
    pro_days: int,
    pro_until: datetime,
    paid_at: datetime,
) -> int | None:
    """Insert the payment unless its charge id is already recorded; return the new id or None.

    One ``INSERT … ON CONFLICT DO NOTHING``: a redelivered update (or two instances handling
    it at once) records the payment exactly once.
    """
    insert = upsert_insert(session, Payment)
    statement = (
        insert.values(
            user_id=user_id,
            telegram_payment_charge_id=telegram_payment_charge_id,
            provider_payment_charge_id=provider_payment_charge_id,
            currency=currency,
            amount=amount,
            invoice_payload=invoice_payload,
            pro_days=pro_days,
            pro_until=pro_until,
            paid_at=paid_at,
        )
        .on_conflict_do_nothing(index_elements=[Payment.telegram_payment_charge_id])
        .returning(Payment.id)
    )
    inserted = await session.scalar(statement)
    return int(inserted) if inserted is not None else None


async def get_by_charge_id(session: AsyncSession, charge_id: str) -> Payment | None:
    """Return the payment with ``telegram_payment_charge_id``, or None."""
    statement = select(Payment).where(Payment.telegram_payment_charge_id == charge_id)
    return await session.scalar(statement)


async def mark_refunded(session: AsyncSession, payment_id: int, when: datetime) -> None:
    """Record that the payment was refunded at ``when``."""
    await session.execute(update(Payment).where(Payment.id == payment_id).values(refunded_at=when))


async def count(session: AsyncSession) -> int:
    """Return how many payments there are."""
    return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)
