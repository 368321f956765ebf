"""Every table of the source is imported and verified, or left behind by name: never silently.

The table list comes from the models' metadata (one source of truth): a table added to the
models without importer and verification coverage fails here.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bandwise.config import Settings, load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.errors import InvalidInput
from bandwise.models import (
    AlertDelivery,
    Assessment,
    Base,
    ImportQuarantine,
    Payment,
    ProcessingStatus,
    RateLimit,
    Submission,
    TaskType,
    User,
)
from bandwise.ops.cutover import CutoverOptions, run_cutover
from bandwise.ops.importer import ImportOptions, import_sqlite, verify_import
from bandwise.ops.importer.tables import TABLE_ORDER, TABLES
from testkit.importer import fetch, table_counts

PAID = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def test_every_model_table_and_column_is_imported() -> None:
    assert set(TABLE_ORDER) == set(Base.metadata.tables)
    for table in Base.metadata.sorted_tables:
        spec = TABLES[table.name]
        assert set(spec.column_names) == {column.name for column in table.columns}, table.name
        parents = {(key.parent.name, key.column.table.name) for key in table.foreign_keys}
        assert {spec.parent} - {None} == parents, table.name
        # Parents load first, so that a set-aside parent takes its children along.
        if spec.parent is not None:
            assert TABLE_ORDER.index(spec.parent[1]) < TABLE_ORDER.index(table.name)


async def _deployment(path: Path) -> Path:
    """Create a bandwise SQLite deployment with rows in every table of the models."""
    engine = create_engine(load_settings(database_url=f"sqlite:///{path}"), null_pool=True)
    try:
        await migrate.upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add_all(
                [
                    User(id=1, telegram_id=5_000_000_001, created_at=PAID, pro_until=PAID),
                    User(id=2, telegram_id=42, username="bo", created_at=PAID),
                ]
            )
            await session.flush()
            session.add_all(
                [
                    Submission(
                        id=1,
                        user_id=1,
                        text="An essay.",
                        task_type=TaskType.TASK_2,
                        word_count=2,
                        submitted_at=PAID,
                        processing_status=ProcessingStatus.COMPLETED,
                    ),
                    RateLimit(
                        id=3, user_id=1, submission_date=date(2026, 10, 1), submission_count=1
                    ),
                    Payment(
                        id=7,
                        user_id=1,
                        telegram_payment_charge_id="charge-1",
                        provider_payment_charge_id=None,
                        currency="XTR",
                        amount=250,
                        invoice_payload="pro-30",
                        pro_days=30,
                        pro_until=PAID,
                        paid_at=PAID,
                    ),
                    Payment(
                        id=9,
                        user_id=2,
                        telegram_payment_charge_id="charge-2",
                        provider_payment_charge_id="prov-2",
                        currency="XTR",
                        amount=250,
                        invoice_payload="pro-30",
                        pro_days=30,
                        pro_until=PAID,
                        paid_at=PAID,
                        refunded_at=PAID,
                    ),
                    AlertDelivery(
                        id=6,
                        alert="BandwiseBackupVerifyFailed",
                        status="firing",
                        message={"alert": "BandwiseBackupVerifyFailed", "started_at": 1.5e9},
                        pending=["telegram 11", "webhook"],
                        attempts=2,
                        last_error="webhook: HTTP 500",
                        queued_at=PAID,
                    ),
                    ImportQuarantine(
                        id=4,
                        source_table="submissions",
                        source_id=99,
                        reason="user_id=9: no users row with id 9 (orphan)",
                        row_data={"id": 99, "user_id": 9, "text": {"hex": "00"}},
                        quarantined_at=PAID,
                    ),
                ]
            )
            await session.flush()
            session.add(
                Assessment(
                    id=1,
                    submission_id=1,
                    task_achievement_score=Decimal("6.5"),
                    coherence_cohesion_score=Decimal("6"),
                    lexical_resource_score=Decimal("7"),
                    grammatical_accuracy_score=Decimal("6.5"),
                    overall_band_score=Decimal("6.5"),
                    detailed_feedback="Good.",
                    improvement_suggestions=["Link ideas"],
                    assessor="heuristic",
                    assessed_at=PAID,
                )
            )
    finally:
        await engine.dispose()
    return path


def _add_operator_table(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE operator_notes (id INTEGER PRIMARY KEY, body TEXT)")
        connection.executemany("INSERT INTO operator_notes (body) VALUES (?)", [("a",), ("b",)])


async def _all_rows(url: str, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(settings, url=url, null_pool=True)
    try:
        async with engine.connect() as connection:
            return {
                table.name: sorted(
                    tuple(row) for row in (await connection.execute(select(table))).all()
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        await engine.dispose()


async def test_a_bandwise_deployment_moves_whole_and_an_unknown_table_is_refused_by_name(
    tmp_path: Path, target_url: str, import_settings: Settings
) -> None:
    source = await _deployment(tmp_path / "bandwise.db")
    _add_operator_table(source)

    with pytest.raises(InvalidInput, match=r"operator_notes would not be imported.*--skip-table"):
        await import_sqlite(source, target_url, import_settings, ImportOptions())
    assert set((await table_counts(target_url)).values()) == {0}

    options = ImportOptions(skip_tables=("operator_notes",))
    report = await import_sqlite(source, target_url, import_settings, options)
    assert report.verified and report.committed
    assert report.skipped_tables == {"operator_notes": 2}
    checked = {check.name for check in report.checks if check.ok}
    for table in Base.metadata.tables:
        assert {f"{table}: row count", f"{table}: content checksum"} <= checked, table
    settings = load_settings(database_url=f"sqlite:///{source}")
    assert await _all_rows(target_url, import_settings) == await _all_rows(
        f"sqlite:///{source}", settings
    )
    # The sequences continue past the carried ids.
    (row,) = await fetch(
        target_url,
        "INSERT INTO payments (user_id, telegram_payment_charge_id, currency, amount, "
        "invoice_payload, pro_days, pro_until, paid_at) "
        "VALUES (2, 'charge-3', 'XTR', 1, 'p', 1, now(), now()) RETURNING id",
    )
    assert row[0] == 10
    await fetch(target_url, "DELETE FROM payments WHERE id = 10")

    with pytest.raises(InvalidInput, match="operator_notes"):
        await verify_import(source, target_url, import_settings)
    again = await verify_import(source, target_url, import_settings, ("operator_notes",))
    assert again.verified
    await fetch(target_url, "DELETE FROM payments WHERE id = 9")
    changed = await verify_import(source, target_url, import_settings, ("operator_notes",))
    assert not changed.verified
    assert [check.name for check in changed.checks if not check.ok] == [
        "payments: row count",
        "payments: content checksum",
    ]


async def test_quarantined_rows_are_added_after_the_carried_ones(
    tmp_path: Path, target_url: str, import_settings: Settings
) -> None:
    source = await _deployment(tmp_path / "bandwise.db")
    with sqlite3.connect(source) as connection:  # a row whose user is gone
        connection.execute(
            "INSERT INTO submissions (id, user_id, text, task_type, word_count, submitted_at, "
            "processing_status) VALUES (5, 77, 'x', 'task_1', 1, "
            "'2026-10-01 00:00:00.000000', 'completed')"
        )
    report = await import_sqlite(
        source, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )
    assert report.verified
    rows = await fetch(target_url, "SELECT id, source_id FROM import_quarantine ORDER BY id")
    assert [tuple(row) for row in rows] == [(4, 99), (5, 5)]
    assert (await verify_import(source, target_url, import_settings)).verified


async def test_cutover_carries_payments_or_refuses_an_unknown_table(
    tmp_path: Path, target_url: str
) -> None:
    source = await _deployment(tmp_path / "bandwise.db")
    settings = load_settings(
        database_url=f"sqlite:///{source}",
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
    )
    _add_operator_table(source)
    options = CutoverOptions(sqlite_path=source, postgres_url=target_url, service_stopped=True)

    refused = await run_cutover(settings, options)
    assert not refused.succeeded and refused.failed_step == "preflight"
    assert "operator_notes" in str(refused.failure) and "--skip-table" in str(refused.failure)

    options.skip_tables = ("operator_notes",)
    report = await run_cutover(settings, options)
    assert report.succeeded, (report.failure, report.steps)
    assert report.imported_rows["payments"] == 2
    assert report.imported_rows["import_quarantine"] == 1
    engine = create_engine(settings, url=target_url, null_pool=True)
    try:
        async with engine.connect() as connection:
            charges = (
                await connection.execute(
                    text("SELECT telegram_payment_charge_id FROM payments ORDER BY id")
                )
            ).scalars()
            assert list(charges) == ["charge-1", "charge-2"]
    finally:
        await engine.dispose()
