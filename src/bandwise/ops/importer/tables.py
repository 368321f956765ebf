"""What the importer moves: each target table's columns, their kinds and legacy defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bandwise.ops.importer.canonical import Kind

# Load order: parents before children (a quarantined parent takes its children along).
TABLE_ORDER = ("users", "submissions", "rate_limits", "assessments")
# Every table an import writes or truncates (``--replace``).
APP_TABLES = (*TABLE_ORDER, "import_quarantine")
# Legacy-only columns read but not copied as such (their data moves, see rate_limits).
LEGACY_COUNTER_COLUMNS = ("daily_submissions", "last_submission_date")

MISSING = object()


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
TABLES: dict[str, TableSpec] = {
    spec.name: spec for spec in (USERS, SUBMISSIONS, RATE_LIMITS, ASSESSMENTS)
}
