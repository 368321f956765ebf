"""What the importer moves: every target table's columns, as one column model read by all paths.

Every spec comes from the models' metadata: kind, width of integers, enum members, maximum
length, nullability and the default a source lacking the column gets (the column's server
default, NULL for a nullable one). The few facts the models cannot know, the legacy bot's
own rules, are listed once in ``_LEGACY_RULES``. The fast path, the SQL path, the careful path
and verification all read these specs, so a table or column added to the models is imported
and verified without further work, or, when one of its column types has no conversion here,
this module refuses to load.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import False_, TextClause, True_
from sqlalchemy.types import TypeDecorator

from bandwise.legacy import values as legacy
from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS, LEGACY_TABLES, legacy_metadata
from bandwise.models import Base
from bandwise.models.assessment import BandType
from bandwise.ops.importer.canonical import Kind


class _Missing(Enum):
    """No default: a source lacking the column cannot be imported (one identity, pickled too)."""

    MISSING = "MISSING"


MISSING: Any = _Missing.MISSING
# Signed integer ranges by width in bits (the PostgreSQL integer types).
INT_RANGES = {bits: (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (16, 32, 64)}
INT32_MAX = INT_RANGES[32][1]


@dataclass(frozen=True)
class Derivation:
    """A column a source may lack, computed from another column of the same row."""

    source: str
    compute: Callable[[Any], Any]  # the source column's raw value (None when absent) → value


@dataclass(frozen=True)
class ColumnSpec:
    """One target column: everything the importer's paths and the verification need to know."""

    name: str
    kind: Kind
    nullable: bool = False
    default: Any = MISSING  # the value when the source lacks the column (MISSING: required)
    max_length: int | None = None  # text: at most this many characters
    bits: int = 64  # int: the width of the target integer
    enum: type[Enum] | None = None  # enum: the members (stored by value, legacy spells names)
    derive: Derivation | None = None  # computed when the source lacks the column
    text_as_list: bool = False  # json: legacy plain text becomes a one-element list

    @property
    def int_range(self) -> tuple[int, int]:
        """Return the smallest and largest integer the column holds."""
        return INT_RANGES[self.bits]

    @property
    def enum_names(self) -> dict[str, str]:
        """Return {member name: stored value} of an enum column (the legacy bot wrote names)."""
        assert self.enum is not None, f"{self.name} is not an enum column"
        return {member.name: str(member.value) for member in self.enum}

    @property
    def required(self) -> bool:
        """Tell whether a source table lacking this column cannot be imported."""
        return self.default is MISSING and self.derive is None


@dataclass(frozen=True)
class TableSpec:
    """One target table: columns in COPY order and the parent it depends on."""

    name: str
    columns: tuple[ColumnSpec, ...]
    parent: tuple[str, str] | None = None  # (foreign key column, parent table)
    required: bool = False  # a source without this table is not a bandwise database
    # Legacy columns read from the source but not copied as such (their data moves elsewhere).
    moved_columns: tuple[str, ...] = ()

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

    def column(self, name: str) -> ColumnSpec:
        """Return the column called ``name``."""
        return next(column for column in self.columns if column.name == name)


# The legacy bot's rules the models cannot know: what an older legacy file lacking a column
# meant, and how the bot spelled some values. Keyed "table.column" (or "table" for tables).
_LEGACY_RULES: dict[str, dict[str, Any]] = {
    "users": {"required": True, "moved_columns": LEGACY_ONLY_USER_COLUMNS},
    "submissions.word_count": {"derive": Derivation("text", legacy.count_words)},
    "submissions.processing_status": {"default": "completed"},
    "assessments.detailed_feedback": {"default": ""},
    "assessments.improvement_suggestions": {"default": "[]", "text_as_list": True},
}
# Where an import writes the rows it sets aside (after the ones carried from the source).
QUARANTINE_TABLE = "import_quarantine"
# Tables of a SQLite file that hold no data to move: SQLite's own bookkeeping, and the schema
# revision of a bandwise deployment (the target is migrated to this code's head instead).
SQLITE_INTERNAL_PREFIX = "sqlite_"
SCHEMA_VERSION_TABLE = "alembic_version"

_KINDS: tuple[tuple[type[Any], Kind], ...] = (
    (BandType, "band"),  # before unwrapping: a Numeric holding bands
    (sa.Boolean, "bool"),
    (sa.Integer, "int"),
    (sa.DateTime, "ts"),
    (sa.Date, "date"),
    (sa.JSON, "json"),
    (sa.Enum, "enum"),  # before String, which it extends
    (sa.String, "text"),  # Text too
)
_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")


def _kind(table: str, column: sa.Column[Any]) -> Kind:
    """Return the importer's kind for a model column; refuse a type it cannot convert."""
    column_type: Any = column.type
    for python_type, kind in _KINDS:
        if isinstance(column_type, python_type):
            return kind
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    for python_type, kind in _KINDS:
        if isinstance(column_type, python_type):
            return kind
    raise TypeError(
        f"the importer has no conversion for {table}.{column.name} ({column.type!r}): "
        "add one in bandwise.ops.importer.tables"
    )


def _bits(column_type: Any) -> int:
    if isinstance(column_type, sa.BigInteger):
        return 64
    return 16 if isinstance(column_type, sa.SmallInteger) else 32


def _server_default(table: str, column: sa.Column[Any]) -> Any:
    """Return the constant the database fills in for ``column`` (MISSING when none)."""
    default = column.server_default
    if default is None:
        return None if column.nullable else MISSING
    arg = getattr(default, "arg", None)
    if isinstance(arg, True_ | False_):
        return isinstance(arg, True_)
    if isinstance(arg, TextClause) and (quoted := _QUOTED.match(arg.text)):
        return quoted.group(1).replace("''", "'")
    raise TypeError(
        f"the importer cannot read the server default of {table}.{column.name} ({arg!r}): "
        "add it in bandwise.ops.importer.tables"
    )


def column_spec(table: str, column: sa.Column[Any]) -> ColumnSpec:
    """Return the import spec of one model column, with the legacy rules for it."""
    kind = _kind(table, column)
    spec = ColumnSpec(
        column.name,
        kind,
        nullable=bool(column.nullable),
        default=_server_default(table, column),
        max_length=getattr(column.type, "length", None) if kind == "text" else None,
        bits=_bits(column.type) if kind == "int" else 64,
        enum=getattr(column.type, "enum_class", None) if kind == "enum" else None,
    )
    return dataclasses.replace(spec, **_LEGACY_RULES.get(f"{table}.{column.name}", {}))


def _copy_order(table: sa.Table) -> list[sa.Column[Any]]:
    """Return the columns in COPY order: the legacy bot's own first, in its order.

    Columns added since (a legacy file has none of them) then come last, so that their
    constant defaults form a fixed tail of every row (what the SQL path relies on).
    """
    legacy_table = legacy_metadata.tables.get(table.name)
    if legacy_table is None:
        return list(table.columns)
    first = [table.columns[c.name] for c in legacy_table.columns if c.name in table.columns]
    return first + [column for column in table.columns if column.name not in legacy_table.columns]


def model_spec(table: sa.Table) -> TableSpec:
    """Return the import spec of a model table: every column, as the model declares it."""
    columns = tuple(column_spec(table.name, column) for column in _copy_order(table))
    parents = [
        (key.parent.name, key.column.table.name)
        for key in table.foreign_keys
        if key.column.table is not table
    ]
    if len(parents) > 1:
        raise TypeError(f"the importer follows one parent per table; {table.name} has {parents}")
    spec = TableSpec(table.name, columns, parent=parents[0] if parents else None)
    return dataclasses.replace(spec, **_LEGACY_RULES.get(table.name, {}))


def _all_specs() -> tuple[TableSpec, ...]:
    tables = Base.metadata.tables
    legacy_first = [tables[name] for name in LEGACY_TABLES]
    others = [table for table in Base.metadata.sorted_tables if table.name not in LEGACY_TABLES]
    return tuple(model_spec(table) for table in (*legacy_first, *others))


def _check_rules(specs: Mapping[str, TableSpec]) -> None:
    """Refuse a legacy rule naming a table or column the models no longer have."""
    for key in _LEGACY_RULES:
        table, _, column = key.partition(".")
        if table not in specs or (column and column not in specs[table].column_names):
            raise TypeError(f"bandwise.ops.importer.tables has a rule for {key}: no such column")


# Load order: parents before children (a quarantined parent takes its children along).
TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _all_specs()}
_check_rules(TABLES)
TABLE_ORDER = tuple(TABLES)
# Every table an import writes or truncates (``--replace``).
APP_TABLES = TABLE_ORDER
