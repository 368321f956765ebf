"""Two bot processes on one PostgreSQL: exact daily limits, a redelivered payment recorded once.

Each process is a real Dispatcher in its own OS process (``testkit.bot_runner``)
fed Telegram updates by the test; only Telegram is imitated.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiogram.types import Update

from bandwise.bot import texts
from bandwise.models import utcnow
from testkit.bot_driver import ASSESSMENT_MARKER, LIMIT_MARKER
from testkit.bot_process import BotProcess
from testkit.load import essay_for
from testkit.pg_cluster import PgCluster
from testkit.telegram import Candidate

LIMIT = 3
ESSAYS_PER_PROCESS = 10
PRICE = 250
PRO_DAYS = 30
RACER = 6_600_001
PAYER = 6_600_002


@pytest.fixture(scope="module")
def app_database(pg_cluster: PgCluster) -> Iterator[str]:
    """Yield the name of a new, empty database (both bot processes migrate it at start-up)."""
    name = f"bots_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_database(name)
    yield name
    pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def two_bots(
    pg_cluster: PgCluster, app_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[BotProcess]]:
    """Start two bot processes at once on the same database (shared by this module's tests)."""
    tmp_path = tmp_path_factory.mktemp("bots")
    bots = [
        BotProcess(
            {
                "DATABASE_URL": pg_cluster.url(app_database),
                "DAILY_SUBMISSION_LIMIT": str(LIMIT),
                "PRO_PRICE_STARS": str(PRICE),
                "PRO_PERIOD_DAYS": str(PRO_DAYS),
                "BOT_PROCESSING_NOTICE_SECONDS": "30",
                "DB_STARTUP_TIMEOUT": "20",
                "MAINTENANCE_FLAG_PATH": str(tmp_path / "maintenance.flag"),
            },
            log_path=tmp_path / f"bot-{index}.log",
        )
        for index in range(2)
    ]
    try:
        for bot in bots:
            bot.start()
        for bot in bots:
            bot.wait_ready()  # its ready line, or its exit: no clock
        yield bots
    finally:
        for bot in bots:
            bot.stop()


def deliver_to_both(bots: list[BotProcess], batches: list[list[Update]]) -> list[dict[str, Any]]:
    """Send each process its batch at the same moment; return every update's outcome."""
    for bot, batch in zip(bots, batches, strict=True):
        bot.send(batch)
    outcomes: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def collect(bot: BotProcess) -> None:
        try:
            outcomes.extend(bot.collect())  # up to its barrier line
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=collect, args=(bot,), daemon=True) for bot in bots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # each ends at its child's barrier line or exit
    assert not errors, errors
    assert all(outcome["error"] is None for outcome in outcomes), outcomes
    return outcomes


@pytest.mark.timeout(300)  # a hang's bound only; the waits are on the children's lines
def test_daily_limit_is_exact_across_two_bot_processes(
    two_bots: list[BotProcess], pg_cluster: PgCluster, app_database: str
) -> None:
    """Twenty essays from one candidate, ten to each process at once: exactly three scored."""
    candidate = Candidate(telegram_id=RACER, first_name="Racer")
    batches = [
        [candidate.text(essay_for(process * 100 + index, 1)) for index in range(ESSAYS_PER_PROCESS)]
        for process in range(2)
    ]

    outcomes = deliver_to_both(two_bots, batches)

    replies: list[list[str]] = [outcome["replies"] for outcome in outcomes]
    scored = [r for r in replies if any(ASSESSMENT_MARKER in text for text in r)]
    refused = [r for r in replies if any(text.startswith(LIMIT_MARKER) for text in r)]
    assert (len(outcomes), len(scored), len(refused)) == (
        2 * ESSAYS_PER_PROCESS,
        LIMIT,
        2 * ESSAYS_PER_PROCESS - LIMIT,
    )
    assert not any(texts.NOT_SAVED in r or texts.BUSY in r for r in replies)
    stored = pg_cluster.psql(
        "SELECT count(*), count(a.id) FROM submissions s JOIN users u ON u.id = s.user_id "
        f"LEFT JOIN assessments a ON a.submission_id = s.id WHERE u.telegram_id = {RACER}",
        app_database,
    )
    used = pg_cluster.psql(
        "SELECT r.submission_count FROM rate_limits r JOIN users u ON u.id = r.user_id "
        f"WHERE u.telegram_id = {RACER}",
        app_database,
    )
    assert (stored, used) == (f"{LIMIT}|{LIMIT}", str(LIMIT))


@pytest.mark.timeout(300)  # a hang's bound only; the waits are on the children's lines
def test_same_payment_delivered_to_both_processes_is_recorded_once(
    two_bots: list[BotProcess], pg_cluster: PgCluster, app_database: str
) -> None:
    """One successful-payment update redelivered to both processes: one payment, one period."""
    candidate = Candidate(telegram_id=PAYER, first_name="Payer")
    payment = candidate.paid(f"pro:{PRO_DAYS}", PRICE, charge_id="charge-race-1")
    before = utcnow()

    outcomes = deliver_to_both(two_bots, [[payment], [payment]])

    after = utcnow()
    replies = [text for outcome in outcomes for text in outcome["replies"]]
    thanked = [r for r in replies if r.startswith(texts.PAYMENT_THANKS.split("{", 1)[0])]
    already = [r for r in replies if r.startswith(texts.PAYMENT_ALREADY.split("{", 1)[0])]
    assert (len(thanked), len(already)) == (1, 1), replies
    rows = pg_cluster.psql(
        "SELECT count(*), min(p.pro_days) FROM payments p JOIN users u ON u.id = p.user_id "
        f"WHERE u.telegram_id = {PAYER}",
        app_database,
    )
    assert rows == f"1|{PRO_DAYS}"
    pro_until = datetime.fromisoformat(
        pg_cluster.psql(
            f"SELECT pro_until FROM users WHERE telegram_id = {PAYER}", app_database
        ).strip()
    )
    if pro_until.tzinfo is None:
        pro_until = pro_until.replace(tzinfo=before.tzinfo)
    extended = timedelta(days=PRO_DAYS)
    assert before + extended - timedelta(seconds=1) <= pro_until <= after + extended
