"""Account for every table and column of the source: imported, defaulted, or left behind.

Nothing is dropped silently: a table or column of the source the importer has no place for
stops the import before anything is written, naming it and the option that leaves it behind
by choice (``--skip-table NAME``, ``--skip-column TABLE.COLUMN``); what is left behind, and
what the source lacks and gets defaults, is listed in the report.
"""

from __future__ import annotations

from pathlib import Path

from bandwise.db import migrate
from bandwise.errors import InvalidInput
from bandwise.ops.importer.report import ImportReport
from bandwise.ops.importer.snapshot import Snapshot, check_sqlite_file, describe_file
from bandwise.ops.importer.tables import TABLES


def _account_for_tables(
    snapshot: Snapshot,
    report: ImportReport,
    skip_tables: tuple[str, ...],
    skip_columns: tuple[str, ...] = (),
) -> None:
    """Refuse a source table or column that would be neither imported nor skipped by choice."""
    source = snapshot.source
    for name in skip_tables:
        if name in TABLES:
            raise InvalidInput(
                f"--skip-table {name}: bandwise's own table {name} is always imported",
                field="skip_table",
            )
        if not snapshot.has(name):
            raise InvalidInput(
                f"--skip-table {name}: {source} has no such table", field="skip_table"
            )
    unaccounted = [
        name for name in snapshot.data_tables if name not in TABLES and name not in skip_tables
    ]
    if unaccounted:
        raise InvalidInput(
            f"{source}: table(s) {', '.join(unaccounted)} would not be imported; nothing was "
            f"imported. Leave a table behind on purpose with --skip-table NAME (repeatable).",
            field="source",
        )
    _account_for_columns(snapshot, skip_columns)
    revision = snapshot.schema_revision()
    if revision is not None and revision not in {rev for rev, _, _ in migrate.history()}:
        raise InvalidInput(
            f"{source}: schema revision {revision} is newer than this bandwise knows "
            f"(head {migrate.head_revision()}); import it with the bandwise that wrote it",
            field="source",
        )
    report.skipped_tables = {name: snapshot.count(name) for name in skip_tables}


def _account_for_columns(snapshot: Snapshot, skip_columns: tuple[str, ...]) -> None:
    """Refuse a column of bandwise's tables that would be neither imported nor skipped."""
    source = snapshot.source
    for choice in skip_columns:
        table, dot, column = choice.partition(".")
        if not (table and dot and column):
            raise InvalidInput(
                f"--skip-column {choice}: write TABLE.COLUMN (e.g. users.locale)",
                field="skip_column",
            )
        if table not in TABLES:
            raise InvalidInput(
                f"--skip-column {choice}: {table} is not a table bandwise imports (leave a "
                f"whole table behind with --skip-table {table})",
                field="skip_column",
            )
        if column not in snapshot.columns.get(table, ()):
            raise InvalidInput(
                f"--skip-column {choice}: {source} has no column {choice}", field="skip_column"
            )
        if column not in snapshot.skipped_columns(TABLES[table]):
            raise InvalidInput(
                f"--skip-column {choice}: bandwise's own column {choice} is always imported",
                field="skip_column",
            )
    unaccounted = [
        f"{name}.{column}"
        for name, spec in TABLES.items()
        for column in snapshot.skipped_columns(spec)
        if f"{name}.{column}" not in skip_columns
    ]
    if unaccounted:
        raise InvalidInput(
            f"{source}: column(s) {', '.join(sorted(unaccounted))} would not be imported; "
            f"nothing was imported. Leave a column behind on purpose with --skip-column "
            f"TABLE.COLUMN (repeatable).",
            field="source",
        )


def check_source_tables(
    source: Path, skip_tables: tuple[str, ...] = (), skip_columns: tuple[str, ...] = ()
) -> None:
    """Raise InvalidInput naming any table or column of ``source`` an import would drop.

    Only what ``skip_tables`` and ``skip_columns`` ("table.column") leave behind by choice
    may be dropped.
    """
    check_sqlite_file(source)
    snapshot = describe_file(source)
    _account_for_tables(snapshot, ImportReport(str(source), "", "check"), skip_tables, skip_columns)


def account_for_source(
    snapshot: Snapshot,
    report: ImportReport,
    skip_tables: tuple[str, ...] = (),
    skip_columns: tuple[str, ...] = (),
) -> None:
    """Refuse a file lacking what cannot be defaulted, or holding what would be dropped.

    Lists in ``report`` what is left behind by choice and what is defaulted.
    """
    _account_for_tables(snapshot, report, skip_tables, skip_columns)
    missing_required = [
        f"{name} (table)"
        for name, spec in TABLES.items()
        if spec.required and not snapshot.has(name)
    ]
    missing_required += [
        f"{name}.{column}"
        for name, spec in TABLES.items()
        if snapshot.has(name)
        for column in snapshot.missing_columns(spec)
        if spec.column(column).required
    ]
    if missing_required:
        raise InvalidInput(
            f"{snapshot.source}: not a bandwise legacy database; "
            f"missing: {', '.join(missing_required)}",
            field="source",
        )
    for name, spec in TABLES.items():
        if not snapshot.has(name):
            report.defaulted_columns[name] = ["(table absent: no rows)"]
            continue
        if missing := snapshot.missing_columns(spec):
            report.defaulted_columns[name] = missing
    report.skipped_columns = {
        choice: snapshot.count_values(*choice.split(".", 1)) for choice in skip_columns
    }
