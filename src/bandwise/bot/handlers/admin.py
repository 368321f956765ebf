"""Admin commands (``ADMIN_IDS`` only): /stats, /pro <telegram_id> on|off, /refund <charge id>."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bandwise.bot import texts
from bandwise.errors import Conflict, NotFound
from bandwise.models import utcnow
from bandwise.ops.health import check_readiness
from bandwise.runtime import Runtime
from bandwise.services.payments import refund_payment, set_pro_flag
from bandwise.services.stats import usage_stats

SWITCHES = {"on": True, "off": False}


def sent_by_admin(_message: Message, is_admin: bool) -> bool:
    """Let only ``ADMIN_IDS`` through (``is_admin`` comes from the runtime middleware)."""
    return is_admin


async def stats_command(message: Message, runtime: Runtime) -> None:
    """Show users, today's submissions, assessments, Pro users and database health."""
    usage = await usage_stats(
        runtime.sessions,
        runtime.policy,
        utcnow(),
        retry_attempts=runtime.settings.db_retry_attempts,
    )
    readiness = await check_readiness(runtime)
    health = ", ".join(
        f"{check.name} {'ok' if check.ok else check.detail}" for check in readiness.checks
    )
    await message.answer(texts.stats(usage, runtime.settings.engine_name, health))


async def pro_command(message: Message, command: CommandObject, runtime: Runtime) -> None:
    """Grant or revoke Pro: /pro <telegram_id> on|off."""
    parts = (command.args or "").split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in SWITCHES:
        await message.answer(texts.ADMIN_PRO_USAGE)
        return
    telegram_id, enabled = int(parts[0]), SWITCHES[parts[1].lower()]
    await set_pro_flag(
        runtime.sessions, telegram_id, enabled, retry_attempts=runtime.settings.db_retry_attempts
    )
    await message.answer(
        texts.ADMIN_PRO_SET.format(telegram_id=telegram_id, state="on" if enabled else "off")
    )


async def refund_command(
    message: Message, command: CommandObject, bot: Bot, runtime: Runtime
) -> None:
    """Refund a Stars payment: /refund <telegram_payment_charge_id>."""
    charge_id = (command.args or "").strip()
    if not charge_id or " " in charge_id:
        await message.answer(texts.ADMIN_REFUND_USAGE)
        return

    async def refund_with_telegram(telegram_id: int, charge: str) -> object:
        return await bot.refund_star_payment(user_id=telegram_id, telegram_payment_charge_id=charge)

    try:
        payment = await refund_payment(runtime.sessions, charge_id, refund_with_telegram, utcnow())
    except (NotFound, Conflict) as error:
        await message.answer(texts.ADMIN_ERROR.format(reason=texts.escape_text(error.message)))
        return
    await message.answer(
        texts.ADMIN_REFUNDED.format(amount=payment.amount, charge_id=texts.escape_text(charge_id))
    )


def build_router() -> Router:
    """Return a new router with the admin commands, open to ``ADMIN_IDS`` only."""
    router = Router(name="admin")
    router.message.filter(sent_by_admin)
    router.message.register(stats_command, Command("stats"))
    router.message.register(pro_command, Command("pro"))
    router.message.register(refund_command, Command("refund"))
    return router
