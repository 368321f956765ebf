"""The pipelined load: each table checked right after its COPY, the reader bounded in bytes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from bandwise.config import Settings
from bandwise.ops.importer import ImportOptions, ImportReport, import_sqlite, produce, verify_import
from bandwise.ops.importer.convert import Converter
from bandwise.ops.importer.copy import Constraint, DeferredConstraints
from bandwise.ops.importer.produce import Batch, Done, TableEnd, ThreadProducer, batch_units
from bandwise.ops.importer.run import upgrade_target
from bandwise.ops.importer.snapshot import take_snapshot
from bandwise.ops.importer.tables import TABLE_ORDER
from testkit.importer import fetch
from testkit.legacy import bad_legacy_data, write_generated_legacy_file, write_legacy_file
from testkit.pg_cluster import PgCluster
from testkit.waiting import wait_until

_CONSTRAINTS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace UNION ALL "
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "ORDER BY 1, 2, 3"
)


def _checks(report: ImportReport) -> list[tuple[str, bool]]:
    return [(check.name, check.ok) for check in report.checks]


async def test_every_index_and_foreign_key_is_back_and_the_checks_match_a_fresh_verify(
    legacy_path: Path,
    target_url: str,
    import_settings: Settings,
    pg_cluster: PgCluster,
    pg_template: str,
) -> None:
    write_legacy_file(legacy_path, bad_legacy_data())
    migrated = pg_cluster.create_database(f"migrated_{uuid.uuid4().hex[:8]}", pg_template)
    schema = [tuple(row) for row in await fetch(migrated, _CONSTRAINTS)]

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )

    assert report.verified and report.committed and report.quarantined
    assert [tuple(row) for row in await fetch(target_url, _CONSTRAINTS)] == schema
    timings = report.timings
    assert timings["load_seconds"] >= timings["load_checksum_scans_seconds"]
    fresh = await verify_import(legacy_path, target_url, import_settings)
    # Scanned during the load (the quarantine table before the import's own rows went in)
    # or all at once afterwards: the same figures and the same checks, but for the foreign
    # keys, validated by PostgreSQL during the import and by orphan queries afterwards.
    assert fresh.verified
    assert [name for name, _ in _checks(report)] == [name for name, _ in _checks(fresh)]
    for name in TABLE_ORDER:
        ours, theirs = report.tables[name], fresh.tables[name]
        assert (ours.target_rows, ours.target_checksum) == (
            theirs.target_rows,
            theirs.target_checksum,
        )


async def test_a_key_another_table_references_stays_and_the_schema_is_unchanged(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # A table of a later feature, outside the import, referencing users: the import drops and
    # re-creates only its own tables' foreign keys and indexes.
    write_legacy_file(legacy_path, bad_legacy_data())
    await upgrade_target(target_url, import_settings)
    await fetch(
        target_url,
        "CREATE TABLE badges (id bigint PRIMARY KEY, "
        "user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE)",
    )
    schema = [tuple(row) for row in await fetch(target_url, _CONSTRAINTS)]

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )

    assert report.verified and report.committed
    assert [tuple(row) for row in await fetch(target_url, _CONSTRAINTS)] == schema


_FROZEN_PAGES = (
    "SELECT (pg_visibility_map_summary(c.oid)).all_frozen, "
    "pg_relation_size(c.oid) / current_setting('block_size')::int "
    "FROM pg_class c WHERE c.relname = $1"
)
# The tables sent as COPY text (the SQL paths); users goes as binary COPY, which asyncpg
# cannot send with FREEZE.
_TEXT_TABLES = ("submissions", "rate_limits", "assessments")


async def _frozen_pages(target_url: str) -> dict[str, tuple[int, int]]:
    """Return, per text-loaded table, (pages all frozen, pages)."""
    await fetch(target_url, "CREATE EXTENSION IF NOT EXISTS pg_visibility")
    return {
        name: tuple((await fetch(target_url, _FROZEN_PAGES, name))[0])  # type: ignore[misc]
        for name in _TEXT_TABLES
    }


async def test_an_empty_target_is_loaded_frozen(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_generated_legacy_file(legacy_path, 60)

    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    assert report.verified and report.committed
    for name, (frozen, pages) in (await _frozen_pages(target_url)).items():
        assert pages > 0 and frozen == pages, name


async def test_a_table_referencing_the_target_leaves_it_unfrozen_but_imported(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # Emptying the tables for COPY FREEZE would need TRUNCATE, which PostgreSQL refuses for a
    # table another one references (and CASCADE would empty that one): the rows go in as usual.
    write_generated_legacy_file(legacy_path, 60)
    await upgrade_target(target_url, import_settings)
    await fetch(
        target_url,
        "CREATE TABLE badges (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id))",
    )
    await fetch(target_url, "INSERT INTO badges VALUES (1, NULL)")

    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    assert report.verified and report.committed
    assert [tuple(row) for row in await fetch(target_url, "SELECT * FROM badges")] == [(1, None)]
    assert all(frozen == 0 for frozen, _ in (await _frozen_pages(target_url)).values())


@pytest.mark.parametrize("isolation", ["repeatable read", "serializable"])
async def test_a_stricter_default_isolation_does_not_stop_the_frozen_load(
    legacy_path: Path, target_url: str, import_settings: Settings, isolation: str
) -> None:
    # COPY FREEZE refuses to run after "prior transaction activity" (more snapshots than the
    # transaction's own, or an open portal): an operator's stricter default isolation, which
    # keeps one snapshot for the whole transaction, must not stop it.
    write_generated_legacy_file(legacy_path, 60)
    database = (await fetch(target_url, "SELECT current_database()"))[0][0]
    setting = f"default_transaction_isolation = '{isolation}'"
    await fetch(target_url, f'ALTER DATABASE "{database}" SET {setting}')

    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    assert report.verified and report.committed
    assert all(frozen == pages for frozen, pages in (await _frozen_pages(target_url)).values())


def test_constraints_wait_for_every_table_they_read() -> None:
    index = Constraint("CREATE INDEX a ON submissions (user_id)", frozenset({"submissions"}))
    key = Constraint("ALTER TABLE assessments ADD …", frozenset({"assessments", "submissions"}))
    deferred = DeferredConstraints([index, key])

    assert deferred.take_ready(["users"]) == []
    assert deferred.take_ready(["users", "submissions"]) == [index]
    assert deferred.take_ready(["users", "submissions"]) == []
    assert deferred.take_ready(["users", "submissions", "assessments"]) == [key]
    assert deferred.pending == []
    deferred.pending = [index, key]
    assert deferred.take_ready(None) == [index, key]  # the end: whatever is left


def test_a_batch_takes_budget_units_by_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(produce, "_UNIT", 1000)
    monkeypatch.setattr(produce, "QUEUE_UNITS", 500)
    assert batch_units(b"") == 1  # never free: the count of batches stays bounded too
    assert batch_units(b"x" * 1000) == 1
    assert batch_units(b"x" * 1001) == 2
    assert batch_units(b"x" * 10**7) == 500  # one batch larger than the budget still goes
    short = [(1, "a")] * 40
    long = [(1, "a" * 1000)] * 40
    assert 1 < batch_units(short) < batch_units(long) < 500
    assert batch_units(long[:20]) < batch_units(long)


def _items_queued(producer: ThreadProducer) -> list[Any]:
    with producer.queue.mutex:
        return list(producer.queue.queue)


async def test_the_reader_runs_ahead_only_as_far_as_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "generated.db"
    write_generated_legacy_file(source, 60)
    snapshot = take_snapshot(source, tmp_path)
    report = ImportReport("s", "t", "import")
    for name in TABLE_ORDER:
        report.figures(name)
    monkeypatch.setattr(produce, "QUEUE_UNITS", 3)
    monkeypatch.setattr(produce, "_UNIT", 1)  # every batch takes the whole budget
    producer = ThreadProducer(snapshot, Converter(report, policy="quarantine", strict=False))
    producer.start()
    try:
        taken: list[Any] = []
        while not taken or not isinstance(taken[-1], Done):
            # Blocked on the budget: exactly one batch waits (besides ends of empty tables).
            wait_until(
                lambda: (
                    not producer.thread.is_alive()
                    or any(isinstance(item, Batch) for item in _items_queued(producer))
                ),
                timeout=30,
                what="the reader queues a batch",
            )
            assert sum(isinstance(item, Batch) for item in _items_queued(producer)) <= 1
            taken.append(await producer.next_item())
            while isinstance(taken[-1], TableEnd):
                taken.append(await producer.next_item())
    finally:
        producer.close()
        snapshot.close()
    batches = [item for item in taken if isinstance(item, Batch)]
    assert len(batches) > 3 and all(batch.units == 3 for batch in batches)
    assert [item.table for item in taken if isinstance(item, TableEnd)] == list(TABLE_ORDER)
