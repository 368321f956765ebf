"""Exact row counts and maximum ids per table: what a backup must bring back."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, inspect, text
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class TableStats:
    """Row count and highest ``id`` of every table (``None`` for an empty or id-less table)."""

    row_counts: dict[str, int]
    max_ids: dict[str, int | None]

    def differences(
        self, expected_counts: dict[str, int], expected_max_ids: dict[str, int | None]
    ) -> list[str]:
        """Describe every way these stats differ from the expected ones (empty: identical)."""
        problems: list[str] = []
        for table in sorted(set(expected_counts) | set(self.row_counts)):
            want, got = expected_counts.get(table), self.row_counts.get(table)
            if want is None:
                problems.append(f"table {table} is in the restore but not in the manifest")
            elif got is None:
                problems.append(f"table {table} is missing from the restore")
            elif want != got:
                problems.append(f"table {table}: {got} rows restored, manifest says {want}")
        for table, want_id in sorted(expected_max_ids.items()):
            got_id = self.max_ids.get(table)
            if table in self.row_counts and got_id != want_id:
                problems.append(f"table {table}: max id {got_id} restored, manifest says {want_id}")
        return problems


def collect_table_stats(connection: Connection) -> TableStats:
    """Count the rows and find the max id of every table in the connection's default schema."""
    inspector = inspect(connection)
    preparer = connection.dialect.identifier_preparer
    counts: dict[str, int] = {}
    max_ids: dict[str, int | None] = {}
    for table in sorted(inspector.get_table_names()):
        quoted = preparer.quote(table)
        counts[table] = int(connection.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())
        has_integer_id = any(
            column["name"] == "id" and isinstance(column["type"], Integer)
            for column in inspector.get_columns(table)
        )
        if has_integer_id:
            value = connection.execute(text(f"SELECT max(id) FROM {quoted}")).scalar_one()
            max_ids[table] = int(value) if value is not None else None
    return TableStats(row_counts=counts, max_ids=max_ids)


def schema_revision_of(connection: Connection) -> str | None:
    """Return the Alembic revision recorded in the database (None when there is none)."""
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None
