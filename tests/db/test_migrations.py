"""Schema migrations on both engines: cycles, drift, legacy adoption, races, failures."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import MigrationError
from bandwise.legacy.schema import legacy_metadata
from testkit.legacy import quirky_legacy_data, write_legacy_file
from testkit.service import subprocess_env

APP_TABLES = {"users", "submissions", "assessments", "rate_limits", "import_quarantine"}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.fixture
async def empty_engine(empty_database_url: str) -> AsyncEngine:
    engine = create_engine(load_settings(database_url=empty_database_url))
    yield engine  # type: ignore[misc]
    await engine.dispose()


async def test_upgrade_downgrade_upgrade_cycle(empty_engine: AsyncEngine) -> None:
    first = await migrate.upgrade(empty_engine)
    assert first.before is None and first.after == migrate.head_revision()
    assert await _tables(empty_engine) >= APP_TABLES

    again = await migrate.upgrade(empty_engine)
    assert not again.changed

    down = await migrate.downgrade(empty_engine, "base")
    assert down.after is None
    assert not (APP_TABLES & await _tables(empty_engine))
    if empty_engine.dialect.name == "postgresql":
        async with empty_engine.connect() as connection:
            types = set((await connection.execute(text("SELECT typname FROM pg_type"))).scalars())
        assert not {"task_type", "processing_status"} & types

    await migrate.upgrade(empty_engine)
    assert await migrate.is_at_head(empty_engine)


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    assert await migrate.schema_drift(engine) == []


async def _legacy_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table: int(
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )
            for table in ("users", "submissions", "assessments", "rate_limits")
        }


BIG_IDS = (5_123_456_789, 42, 9_007_199_254_740_993)


async def _check_adopted(engine: AsyncEngine, telegram_ids: tuple[int, ...] = BIG_IDS) -> None:
    async with engine.connect() as connection:
        users = (
            await connection.execute(text("SELECT id, telegram_id, is_pro FROM users ORDER BY id"))
        ).all()
        assert [(u.id, u.telegram_id, bool(u.is_pro)) for u in users] == [
            (1, telegram_ids[0], False),
            (2, telegram_ids[1], True),
            (3, telegram_ids[2], False),
        ]
        statuses = (
            await connection.execute(
                text("SELECT id, task_type, processing_status FROM submissions ORDER BY id")
            )
        ).all()
        assert [tuple(row) for row in statuses] == [
            (10, "task_2", "completed"),
            (11, "task_1", "completed"),
            (12, "task_2", "pending"),
        ]
        limits = (
            await connection.execute(
                text(
                    "SELECT user_id, submission_date, submission_count FROM rate_limits "
                    "ORDER BY user_id, submission_date"
                )
            )
        ).all()
        # duplicates of user 1 merged (1 + 1 = 2, and the user counter said 2);
        # user 3's legacy counter (3 on 2024-03-02) moved into rate_limits.
        assert [(r[0], str(r[1]), r[2]) for r in limits] == [
            (1, "2024-03-01", 2),
            (2, "2024-02-10", 1),
            (3, "2024-03-02", 3),
        ]
        suggestions = (
            await connection.execute(
                text("SELECT id, improvement_suggestions FROM assessments ORDER BY id")
            )
        ).all()
        decoded = [s if isinstance(s, list) else json.loads(s) for _, s in suggestions]
        assert decoded == [["Use more linkers"], ["Write an overview first."]]
    from sqlalchemy import select

    from bandwise.db.engine import create_sessionmaker
    from bandwise.models import Assessment, Submission, User

    async with create_sessionmaker(engine)() as session:
        first = await session.get(User, 1)
        assert (
            first is not None and first.created_at.isoformat() == "2024-01-05T10:00:00.123456+00:00"
        )
        assessment = await session.scalar(select(Assessment).where(Assessment.id == 1001))
        assert assessment is not None
        assert assessment.assessed_at.isoformat() == "2024-03-01T10:00:05.123000+00:00"
        assert assessment.overall_band_score == Decimal("5.5")
        assert assessment.assessor == "legacy"
        epoch = await session.get(Submission, 12)
        assert epoch is not None and epoch.submitted_at.isoformat() == "2024-03-02T09:00:00+00:00"


async def test_legacy_sqlite_file_is_adopted_in_place(tmp_path: Path) -> None:
    path = write_legacy_file(tmp_path / "legacy.db", quirky_legacy_data())
    engine = create_engine(load_settings(database_url=f"sqlite:///{path}"))
    try:
        before = await _legacy_counts(engine)
        result = await migrate.upgrade(engine)
        assert result.adopted_legacy and result.after == migrate.head_revision()
        after = await _legacy_counts(engine)
        assert after["users"] == before["users"]
        assert after["submissions"] == before["submissions"]
        assert after["assessments"] == before["assessments"]
        await _check_adopted(engine)
        assert await migrate.schema_drift(engine) == []
    finally:
        await engine.dispose()


async def test_legacy_schema_on_postgresql_is_adopted_in_place(pg_database: str) -> None:
    engine = create_engine(load_settings(database_url=pg_database))
    data = quirky_legacy_data()
    # The legacy INTEGER column is why big Telegram ids broke on PostgreSQL: use small ones here.
    small_ids = (5123, 42, 9007)
    for row, small in zip(data.users, small_ids, strict=True):
        row["telegram_id"] = small
    from bandwise.legacy import values

    async with engine.begin() as connection:
        await connection.run_sync(legacy_metadata.create_all)
        for table in ("users", "submissions", "rate_limits", "assessments"):
            rows = []
            for row in getattr(data, table):
                typed = dict(row)
                for key, value in row.items():
                    if key.endswith(("_at",)) and value is not None:
                        typed[key] = values.parse_datetime(value).replace(tzinfo=None)
                    elif key.endswith("_date") and value is not None:
                        typed[key] = values.parse_date(value)
                    elif key == "is_pro":
                        typed[key] = bool(value)
                rows.append(typed)
            await connection.execute(legacy_metadata.tables[table].insert(), rows)
    try:
        result = await migrate.upgrade(engine)
        assert result.adopted_legacy
        await _check_adopted(engine, small_ids)
        assert await migrate.schema_drift(engine) == []
        async with engine.begin() as connection:  # sequences continue past the legacy ids
            new_id = (
                await connection.execute(
                    text(
                        "INSERT INTO users (telegram_id, created_at, is_pro) "
                        "VALUES (7, now(), false) "
                        "RETURNING id"
                    )
                )
            ).scalar_one()
        assert new_id > 3
    finally:
        await engine.dispose()


async def test_unconvertible_legacy_value_stops_adoption_and_names_it(tmp_path: Path) -> None:
    data = quirky_legacy_data()
    data.users[1]["created_at"] = "2025-02-30 10:00:00"
    path = write_legacy_file(tmp_path / "bad.db", data)
    engine = create_engine(load_settings(database_url=f"sqlite:///{path}"))
    try:
        with pytest.raises(MigrationError) as caught:
            await migrate.upgrade(engine)
        message = str(caught.value)
        assert "users id=2 created_at='2025-02-30 10:00:00'" in message
        assert "0002" in message
        # nothing changed: still the legacy tables, no version table rows
        assert await migrate.current_revision(engine) is None
        counts = await _legacy_counts(engine)
        assert counts["users"] == 3
    finally:
        await engine.dispose()


FAILING_REVISION = '''"""A revision that fails halfway.

Revision ID: 9999
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute(sa.text("INSERT INTO half_done (id) VALUES (1)"))
    op.execute(sa.text("SELECT * FROM no_such_table_anywhere"))


def downgrade() -> None:
    op.drop_table("half_done")
'''


async def test_failing_revision_rolls_back_and_names_itself(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head_revision()
    (scripts / "versions" / "9999_fails.py").write_text(FAILING_REVISION.format(down=head))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)

    with pytest.raises(MigrationError) as caught:
        await migrate.upgrade(engine)
    assert caught.value.revision == "9999"
    assert "9999" in str(caught.value) and f"still at revision {head}" in str(caught.value)
    assert "bandwise db downgrade" in str(caught.value)
    assert await migrate.current_revision(engine) == head
    assert "half_done" not in await _tables(engine)


def test_two_processes_migrating_at_once_are_safe(
    pg_database: str, bandwise_executable: str
) -> None:
    env = subprocess_env(DATABASE_URL=pg_database)
    processes = [
        subprocess.Popen(
            [bandwise_executable, "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    messages = sorted(out for out, _ in outputs)
    assert messages[0].startswith("already at") and "upgraded base" in messages[1]


def test_cli_history_current_and_check(bandwise_executable: str, database_url: str) -> None:
    def bandwise(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bandwise_executable, *args],
            env=subprocess_env(DATABASE_URL=database_url),
            capture_output=True,
            text=True,
            timeout=60,
        )

    history = bandwise("db", "history").stdout
    assert "base → 0001" in history and f"→ {migrate.head_revision()}" in history
    assert bandwise("db", "current").stdout.strip() == f"{migrate.head_revision()} (head)"
    check = bandwise("db", "check")
    assert check.returncode == 0, check.stderr
    assert "models and migrations agree" in check.stdout
