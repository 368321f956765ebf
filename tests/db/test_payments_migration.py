"""Revision 0004 (payments) upgrades and downgrades on both engines; the charge id is unique."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bandwise.db import migrate
from bandwise.models import Payment, User, utcnow


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_payments_revision_round_trip(engine: AsyncEngine) -> None:
    assert migrate.head_revision() == "0006_alert_outbox"
    assert await migrate.current_revision(engine) == "0006_alert_outbox"
    assert "payments" in await table_names(engine)
    await migrate.downgrade(engine, "0003")
    assert "payments" not in await table_names(engine)
    assert await migrate.current_revision(engine) == "0003"
    await migrate.upgrade(engine)
    assert "payments" in await table_names(engine)


async def test_charge_id_is_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        user = User(telegram_id=1, created_at=utcnow())
        session.add(user)
        await session.flush()
        fields = {
            "user_id": user.id,
            "telegram_payment_charge_id": "c1",
            "currency": "XTR",
            "amount": 250,
            "invoice_payload": "pro:30",
            "pro_days": 30,
            "pro_until": utcnow(),
        }
        session.add(Payment(**fields))
        await session.flush()
        session.add(Payment(**fields))
        with pytest.raises(IntegrityError):
            await session.flush()
