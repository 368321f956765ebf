"""What the importer moves: each target table's columns, their kinds and legacy defaults.

The four legacy tables have hand-written specs (their legacy spellings and defaults); every
other table of the models (payments, import_quarantine, any later one) gets its spec from the
models' metadata, so a table added to the models is imported and verified without further
work, or, when one of its column types has no conversion here, this module refuses to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from bandwise.models import Base
from bandwise.ops.importer.canonical import Kind

# Legacy-only columns read but not copied as such (their data moves, see rate_limits).
LEGACY_COUNTER_COLUMNS = ("daily_submissions", "last_submission_date")

MISSING = object()
# The one JSON column with a legacy rule (plain text becomes a one-element list).
SUGGESTIONS_COLUMN = "improvement_suggestions"


@dataclass(frozen=True)
class ColumnSpec:
    """One target column: kind, NULL allowed or not, default when the source lacks it."""

    name: str
    kind: Kind
    nullable: bool = False
    default: Any = MISSING
    max_length: int | None = None


@dataclass(frozen=True)
class TableSpec:
    """One target table: columns in COPY order and the parent it depends on."""

    name: str
    columns: tuple[ColumnSpec, ...]
    parent: tuple[str, str] | None = None  # (foreign key column, parent table)
    required: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        """Return the column names in COPY order."""
        return tuple(column.name for column in self.columns)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Return the column kinds in COPY order."""
        return tuple(column.kind for column in self.columns)

    @property
    def nullable(self) -> tuple[bool, ...]:
        """Return, per column in COPY order, whether it may hold NULL."""
        return tuple(column.nullable for column in self.columns)

    @property
    def checksum_columns(self) -> tuple[tuple[str, Kind], ...]:
        """Return (name, kind) pairs for the checksum query."""
        return tuple((column.name, column.kind) for column in self.columns)


JUSTIFICATIONS = (
    "task_achievement_justification",
    "coherence_cohesion_justification",
    "lexical_resource_justification",
    "grammatical_accuracy_justification",
)
SCORES = (
    "task_achievement_score",
    "coherence_cohesion_score",
    "lexical_resource_score",
    "grammatical_accuracy_score",
    "overall_band_score",
)

USERS = TableSpec(
    "users",
    (
        ColumnSpec("id", "int"),
        ColumnSpec("telegram_id", "int"),
        ColumnSpec("username", "text", nullable=True, default=None, max_length=255),
        ColumnSpec("first_name", "text", nullable=True, default=None, max_length=255),
        ColumnSpec("created_at", "ts"),
        ColumnSpec("is_pro", "bool", default=False),
        ColumnSpec("pro_until", "ts", nullable=True, default=None),
    ),
    required=True,
)
SUBMISSIONS = TableSpec(
    "submissions",
    (
        ColumnSpec("id", "int"),
        ColumnSpec("user_id", "int"),
        ColumnSpec("text", "text"),
        ColumnSpec("task_type", "enum"),
        ColumnSpec("word_count", "int"),  # default: counted from the text
        ColumnSpec("submitted_at", "ts"),
        ColumnSpec("processing_status", "enum", default="completed"),
        ColumnSpec("prompt", "text", nullable=True, default=None),
    ),
    parent=("user_id", "users"),
)
RATE_LIMITS = TableSpec(
    "rate_limits",
    (
        ColumnSpec("id", "int"),
        ColumnSpec("user_id", "int"),
        ColumnSpec("submission_date", "date"),
        ColumnSpec("submission_count", "int"),
        ColumnSpec("created_at", "ts"),
    ),
    parent=("user_id", "users"),
)
ASSESSMENTS = TableSpec(
    "assessments",
    (
        ColumnSpec("id", "int"),
        ColumnSpec("submission_id", "int"),
        *(ColumnSpec(name, "band") for name in SCORES),
        ColumnSpec("detailed_feedback", "text", default=""),
        ColumnSpec("improvement_suggestions", "json", default="[]"),
        *(ColumnSpec(name, "text", default="") for name in JUSTIFICATIONS),
        ColumnSpec("assessor", "text", default="legacy", max_length=100),
        ColumnSpec("assessed_at", "ts"),
        ColumnSpec("band_low", "band", nullable=True, default=None),
        ColumnSpec("band_high", "band", nullable=True, default=None),
        ColumnSpec("flagged", "bool", default=False),
        ColumnSpec("content_hash", "text", nullable=True, default=None, max_length=64),
    ),
    parent=("submission_id", "submissions"),
)
LEGACY_SPECS = (USERS, SUBMISSIONS, RATE_LIMITS, ASSESSMENTS)
# Where an import writes the rows it sets aside (after the ones carried from the source).
QUARANTINE_TABLE = "import_quarantine"
# Tables of a SQLite file that hold no data to move: SQLite's own bookkeeping, and the schema
# revision of a bandwise deployment (the target is migrated to this code's head instead).
SQLITE_INTERNAL_PREFIX = "sqlite_"
SCHEMA_VERSION_TABLE = "alembic_version"


def _kind(table: str, column: sa.Column[Any]) -> Kind:
    """Return the importer's kind for a model column; refuse a type it cannot convert."""
    column_type: Any = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    for python_type, kind in _KINDS:
        if isinstance(column_type, python_type):
            return kind
    raise TypeError(
        f"the importer has no conversion for {table}.{column.name} ({column.type!r}): "
        "add one in bandwise.ops.importer.tables"
    )


_KINDS: tuple[tuple[type[Any], Kind], ...] = (
    (sa.Boolean, "bool"),
    (sa.Integer, "int"),
    (sa.DateTime, "ts"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.String, "text"),  # Text too
)


def model_spec(table: sa.Table) -> TableSpec:
    """Return the import spec of a model table: every column, as the model declares it."""
    columns = tuple(
        ColumnSpec(
            column.name,
            _kind(table.name, column),
            nullable=bool(column.nullable),
            default=None if column.nullable else MISSING,
            max_length=getattr(column.type, "length", None),
        )
        for column in table.columns
    )
    parents = [
        (key.parent.name, key.column.table.name)
        for key in table.foreign_keys
        if key.column.table is not table
    ]
    if len(parents) > 1:
        raise TypeError(f"the importer follows one parent per table; {table.name} has {parents}")
    return TableSpec(table.name, columns, parent=parents[0] if parents else None)


def _all_specs() -> tuple[TableSpec, ...]:
    legacy = {spec.name for spec in LEGACY_SPECS}
    others = [
        model_spec(table) for table in Base.metadata.sorted_tables if table.name not in legacy
    ]
    return (*LEGACY_SPECS, *others)


# Load order: parents before children (a quarantined parent takes its children along).
TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _all_specs()}
TABLE_ORDER = tuple(TABLES)
# Every table an import writes or truncates (``--replace``).
APP_TABLES = TABLE_ORDER
