"""deploy/migrate-to-postgres.sh on a compose stack whose bot ran on its SQLite volume."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from testkit.engine import Engine, Stack, copy_project
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY

pytestmark = [pytest.mark.engine, pytest.mark.timeout(1500)]

# How a compose deployment runs on SQLite: no DATABASE_URL and none of the POSTGRES_* parts
# the settings would compose one from, so the bot uses SQLITE_PATH (/app/data/bandwise.db in
# the bandwise-data volume).
SQLITE_OVERRIDE = """\
services:
  bot:
    environment:
      DATABASE_URL: ""
      POSTGRES_HOST: ""
      POSTGRES_USER: ""
      POSTGRES_DB: ""
"""
TABLES = ("users", "submissions", "assessments", "payments")

# Payments recorded by the application's own service, in the running bot's container.
RECORD_PAYMENTS = """
import asyncio
from bandwise.config import get_settings
from bandwise.models.base import utcnow
from bandwise.runtime import start_runtime
from bandwise.services.payments import record_payment


async def main() -> None:
    runtime = await start_runtime(get_settings(), migrate_schema=False)
    try:
        for number in range(3):
            await record_payment(
                runtime.sessions, telegram_id=9100 + number, charge_id=f"charge-{number}",
                provider_charge_id=None, currency="XTR", amount=250,
                payload="pro:30", now=utcnow())
    finally:
        await runtime.close()


asyncio.run(main())
"""

COUNT_SQLITE = f"""
import json, sqlite3
connection = sqlite3.connect("file:/app/data/bandwise.db?mode=ro", uri=True)
tables = {TABLES!r}
count = "SELECT count(*) FROM "
counts = {{name: connection.execute(count + name).fetchone()[0] for name in tables}}
print(json.dumps(counts))
"""


@pytest.fixture(scope="module")
def sqlite_stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose bot serves from SQLite in its data volume, with rows in every table."""
    root = copy_project(tmp_path_factory.mktemp("migrate") / "bandwise")
    (root / "sqlite.override.yml").write_text(SQLITE_OVERRIDE, encoding="utf-8")
    stack = Stack(engine, root, "bwmigrate")
    stack.write_env()
    stack.down()
    on_sqlite = {"COMPOSE_FILE": "docker-compose.yml:sqlite.override.yml"}
    stack.compose("build", **on_sqlite)
    stack.compose("up", "-d", **on_sqlite)
    try:
        stack.wait_healthy("bot")
        yield stack
    finally:
        stack.down()


def ready_engine(stack: Stack) -> str:
    """Return the database engine the bot's /health/ready reports."""
    probe = (
        "import json, urllib.request; print(urllib.request.urlopen("
        "'http://127.0.0.1:8080/health/ready', timeout=5).read().decode())"
    )
    return stack.exec("bot", "python", "-c", probe)


def test_migrate_to_postgres_moves_every_row_and_the_bot_serves_from_postgres(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    assert "sqlite" in ready_engine(stack)
    submitted: dict[int, int] = {}
    for number, essay in enumerate((TASK1_ESSAY, TASK2_ESSAY, TASK2_ESSAY)):
        status, body = stack.api(
            "POST", "/api/v1/submissions", {"telegram_id": 9000 + number, "text": essay}
        )
        assert status == 201 and isinstance(body, dict), body
        submitted[9000 + number] = int(body["id"])
    stack.exec("bot", "python", "-c", RECORD_PAYMENTS)
    counts = json.loads(stack.exec("bot", "python", "-c", COUNT_SQLITE))
    assert counts["payments"] == 3 and counts["submissions"] == 3 and counts["users"] == 6

    result = stack.script("migrate-to-postgres.sh", "--timeout", "240")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "bandwise now runs on PostgreSQL" in result.stdout

    assert "postgresql" in ready_engine(stack)
    for table in TABLES:
        assert int(stack.psql(f"SELECT count(*) FROM {table}")) == counts[table], table
    charges = stack.psql("SELECT telegram_payment_charge_id FROM payments ORDER BY 1")
    assert charges.split() == ["charge-0", "charge-1", "charge-2"]
    for telegram_id, submission_id in submitted.items():
        status, history = stack.api("GET", f"/api/v1/users/{telegram_id}/history")
        assert status == 200 and isinstance(history, dict), history
        assert [entry["submission_id"] for entry in history["entries"]] == [submission_id]
    # The SQLite file stays where it was, untouched, beside the cutover's report.
    assert json.loads(stack.exec("bot", "python", "-c", COUNT_SQLITE)) == counts
    assert "cutover-" in stack.exec("backup", "ls", "/app/backups")
