"""Pro through Telegram Stars and the admin commands, through the real Dispatcher (both engines)."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import AnswerPreCheckoutQuery, RefundStarPayment, SendInvoice, SendMessage
from sqlalchemy import select

from bandwise.bot.dispatcher import build_dispatcher
from bandwise.models import Payment, User, utcnow
from bandwise.runtime import Runtime
from testkit.conversation import Conversation
from testkit.essays import TASK1_ESSAY
from testkit.telegram import Candidate, recording_bot

ADMIN_ID = 9001


def admin_conversation(runtime: Runtime) -> Conversation:
    runtime.settings.admin_ids = [ADMIN_ID]
    bot, session = recording_bot()
    return Conversation(
        build_dispatcher(runtime), bot, session, runtime, Candidate(ADMIN_ID, "Admin", "admin")
    )


async def user(runtime: Runtime, telegram_id: int) -> User | None:
    async with runtime.sessions() as session:
        return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def test_invoice_and_pre_checkout(conversation: Conversation) -> None:
    sent = await conversation.say("/upgrade")
    assert len(sent) == 1 and isinstance(sent[0], SendInvoice)
    invoice = sent[0]
    assert (invoice.currency, invoice.payload, invoice.title) == (
        "XTR",
        "pro:30",
        "bandwise Pro — 30 days",
    )
    assert [(price.label, price.amount) for price in invoice.prices] == [
        ("bandwise Pro — 30 days", 250)
    ]
    assert invoice.description == "Unlimited essay checks for 30 days"
    assert isinstance((await conversation.press("pro:buy"))[-1], SendInvoice)
    assert isinstance((await conversation.say("/pro"))[0], SendInvoice)  # not an admin

    answered = await conversation.send(conversation.candidate.pre_checkout("pro:30", 250))
    assert isinstance(answered[0], AnswerPreCheckoutQuery) and answered[0].ok is True
    refused = await conversation.send(conversation.candidate.pre_checkout("pro:30", 1))
    assert isinstance(refused[0], AnswerPreCheckoutQuery) and refused[0].ok is False
    assert "does not match the price 250" in (refused[0].error_message or "")


async def test_no_payment_is_accepted_during_maintenance(conversation: Conversation) -> None:
    conversation.runtime.settings.maintenance_flag_path.write_text("cutover")
    refused = await conversation.send(conversation.candidate.pre_checkout("pro:30", 250))
    assert isinstance(refused[0], AnswerPreCheckoutQuery) and refused[0].ok is False
    assert refused[0].error_message is not None and "upgraded" in refused[0].error_message


async def test_payment_recorded_once_when_delivered_twice(conversation: Conversation) -> None:
    before = utcnow()
    update = conversation.candidate.paid("pro:30", 250, "charge-abc")
    first = await conversation.send(update)
    again = await conversation.send(update)  # Telegram redelivers the very same update
    assert isinstance(first[0], SendMessage) and first[0].text.startswith(
        "🎉 Thank you! <b>Pro</b>"
    )
    assert again[0].text.startswith("This payment is already recorded.")
    async with conversation.runtime.sessions() as session:
        payments = list(await session.scalars(select(Payment)))
    assert len(payments) == 1
    assert (payments[0].telegram_payment_charge_id, payments[0].amount, payments[0].currency) == (
        "charge-abc",
        250,
        "XTR",
    )
    candidate = await user(conversation.runtime, conversation.candidate.user.id)
    assert candidate is not None and candidate.pro_until is not None
    assert before + timedelta(days=30) <= candidate.pro_until <= utcnow() + timedelta(days=30)

    second = await conversation.send(conversation.candidate.paid("pro:30", 250, "charge-def"))
    assert "Thank you" in second[0].text
    extended = await user(conversation.runtime, conversation.candidate.user.id)
    assert extended is not None and extended.pro_until is not None
    assert extended.pro_until - candidate.pro_until == timedelta(days=30)


async def test_pro_lifts_the_daily_limit(conversation: Conversation) -> None:
    await conversation.send(conversation.candidate.paid("pro:30", 250, "charge-pro"))
    limit = conversation.runtime.settings.daily_submission_limit
    for _ in range(limit + 1):
        assert (
            "— assessment"
            in [m.text for m in await conversation.say(TASK1_ESSAY) if isinstance(m, SendMessage)][
                -1
            ]
        )


async def test_admin_commands(runtime: Runtime) -> None:
    admin = admin_conversation(runtime)
    candidate = Candidate(7002, "Bo", None)
    await admin.send(candidate.text("/start"))
    await admin.send(candidate.paid("pro:30", 250, "charge-xyz"))
    await admin.send(candidate.text(TASK1_ESSAY))
    admin.session.take()

    stats = (await admin.say("/stats"))[0]
    assert isinstance(stats, SendMessage)
    assert stats.text.startswith(
        "<b>bandwise stats</b>\nUsers: 1\nSubmissions today: 1\n"
        "Assessments: 1\nPro users: 1\nPayments: 1\n"
    )
    assert f"Database: {runtime.settings.engine_name} (database ok" in stats.text

    assert (await admin.say("/pro 7003 on"))[0].text == "Pro for 7003: <b>on</b>."
    granted = await user(runtime, 7003)
    assert granted is not None and granted.is_pro
    await admin.say("/pro 7003 off")
    revoked = await user(runtime, 7003)
    assert revoked is not None and not revoked.is_pro
    assert (await admin.say("/pro seven on"))[0].text == "Usage: /pro &lt;telegram_id&gt; on|off"

    refunded = await admin.say("/refund charge-xyz")
    assert isinstance(refunded[0], RefundStarPayment)
    assert (refunded[0].user_id, refunded[0].telegram_payment_charge_id) == (7002, "charge-xyz")
    assert refunded[1].text == "Refunded 250 ⭐ for payment charge-xyz."
    bo = await user(runtime, 7002)
    assert bo is not None and bo.pro_until is None
    twice = await admin.say("/refund charge-xyz")
    assert len(twice) == 1 and twice[0].text.startswith(
        "Not done: payment charge-xyz was already refunded"
    )
    unknown = await admin.say("/refund nope")
    assert unknown[0].text == "Not done: no payment with charge id nope"


async def test_admin_commands_are_hidden_from_candidates(conversation: Conversation) -> None:
    assert [m.text for m in await conversation.say("/stats")] == [
        "I don't know that command. Send /help to see what I can do."
    ]
    assert [type(m).__name__ for m in await conversation.say("/refund x")] == ["SendMessage"]
    async with conversation.runtime.sessions() as session:
        assert await session.scalar(select(User).where(User.telegram_id == 7003)) is None
