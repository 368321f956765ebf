"""The import report: what was read, converted, set aside, stored and proved, as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bandwise.wording import plural

MAX_LISTED_BAD_VALUES = 20


@dataclass
class BadValue:
    """A value that stops a row from being imported: where it is, what it is, and why."""

    table: str
    source_id: Any
    column: str | None
    value: str
    kind: str
    reason: str

    def describe(self) -> str:
        """Return a one-line description naming table, id, column and value."""
        where = f"{self.table} id={self.source_id}"
        if self.column:
            where += f" {self.column}={self.value}"
        return f"{where}: {self.reason} ({self.kind})"


@dataclass(slots=True)  # up to 100,000 are listed: a third of the memory without a __dict__
class Transformation:
    """A change made to a legacy value on its way in (listed for the lossy or structural kinds)."""

    table: str
    source_id: Any
    column: str
    kind: str
    detail: str


@dataclass
class QuarantinedRow:
    """A legacy row stored in ``import_quarantine`` instead of its table."""

    table: str
    source_id: Any
    reason: str
    row_data: dict[str, Any]


@dataclass
class Check:
    """One verification check and its outcome."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class TableFigures:
    """Per-table numbers: source rows, imported, quarantined, transformed, checksums, time."""

    name: str
    source_rows: int = 0
    imported: int = 0
    quarantined: int = 0
    transformed: int = 0
    expected_checksum: int = 0
    target_rows: int | None = None
    target_checksum: int | None = None
    seconds: float = 0.0

    @property
    def checksum_match(self) -> bool:
        """Tell whether the target holds exactly the converted rows (count and content)."""
        return self.target_rows == self.imported and self.target_checksum == self.expected_checksum


# No generated repr: asyncio shows a finished task's result (this report) with reprlib,
# which builds the whole repr before cutting it, some 40 MB for 100,000 listed rows.
@dataclass(repr=False)
class ImportReport:
    """Everything an import (or a verification) did; ``verified`` is the verdict."""

    source: str
    target: str
    mode: str  # "import", "dry-run" or "verify"
    snapshot: str = "copied"  # "held" (read under held locks) or "copied" (a private copy)
    verified: bool = False
    committed: bool = False
    tables: dict[str, TableFigures] = field(default_factory=dict)
    transformation_counts: dict[str, int] = field(default_factory=dict)
    transformations: list[Transformation] = field(default_factory=list)
    transformations_truncated: bool = False
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    # Rows set aside, per kind of problem (a row with several kinds counts once for each);
    # ``bad_value_totals`` counts the bad values themselves (a row may hold several).
    bad_row_totals: dict[str, int] = field(default_factory=dict)
    bad_value_totals: dict[str, int] = field(default_factory=dict)
    bad_values: list[BadValue] = field(default_factory=list)
    # Source tables left behind by the operator's choice (--skip-table), with their rows.
    skipped_tables: dict[str, int] = field(default_factory=dict)
    # Source columns left behind by choice (--skip-column), "table.column": values not NULL.
    skipped_columns: dict[str, int] = field(default_factory=dict)
    defaulted_columns: dict[str, list[str]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def __repr__(self) -> str:
        """Return a short summary (the listed rows can be many)."""
        return (
            f"ImportReport({self.mode} {self.source} → {self.target}: "
            f"verified={self.verified}, committed={self.committed}, "
            f"{len(self.transformations)} listed transformations, "
            f"{len(self.quarantined)} quarantined rows)"
        )

    def figures(self, table: str) -> TableFigures:
        """Return the figures of ``table`` (created on first use)."""
        if table not in self.tables:
            self.tables[table] = TableFigures(table)
        return self.tables[table]

    def count(self, table: str, column: str, kind: str, amount: int = 1) -> None:
        """Count one transformation of ``kind`` on ``table.column``."""
        key = f"{table}.{column}:{kind}"
        self.transformation_counts[key] = self.transformation_counts.get(key, 0) + amount

    @property
    def bad_rows(self) -> int:
        """Return how many source rows were set aside (quarantined, or refused on abort)."""
        return sum(figures.quarantined for figures in self.tables.values())

    def bad_value_summary(self) -> str:
        """Return the bad rows and values per kind and the first bad values, one per line."""
        rows = ", ".join(f"{kind}: {count}" for kind, count in sorted(self.bad_row_totals.items()))
        values = ", ".join(
            f"{kind}: {count}" for kind, count in sorted(self.bad_value_totals.items())
        )
        totals = (
            f"{plural(self.bad_rows, 'row')} ({rows}); "
            f"{plural(sum(self.bad_value_totals.values()), 'value')} ({values})"
        )
        listed = "\n  ".join(bad.describe() for bad in self.bad_values[:MAX_LISTED_BAD_VALUES])
        more = sum(self.bad_value_totals.values()) - min(
            len(self.bad_values), MAX_LISTED_BAD_VALUES
        )
        tail = f"\n  … and {more} more" if more > 0 else ""
        return f"bad rows by kind: {totals}\n  {listed}{tail}"

    def to_dict(self, *, shallow: bool = False) -> dict[str, Any]:
        """Return the report as JSON-ready data (``verified`` first).

        ``shallow``: leave the listed rows (transformations, bad values, quarantined rows,
        checks) as the dataclasses they are, for an encoder that converts them one by one.
        """
        data = (
            {item.name: getattr(self, item.name) for item in fields(self)}
            if shallow
            else asdict(self)
        )
        data["tables"] = {
            name: {**asdict(figures), "checksum_match": figures.checksum_match}
            for name, figures in self.tables.items()
        }
        data["bad_rows"] = self.bad_rows
        ordered = {"verified": self.verified}
        ordered.update({key: value for key, value in data.items() if key != "verified"})
        return ordered
