"""One column model: every importer fact about a column comes from the models' metadata.

A schema change touches one file: a table or column added to the models gets its spec (kind,
width, enum members, length, nullability, default) with no edit in the importer; only the
legacy bot's own rules are written down, once, and each names a column that exists.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS, legacy_metadata
from bandwise.models import Base, ProcessingStatus, TaskType, UTCDateTime
from bandwise.models.assessment import Band
from bandwise.ops.importer.sqlfast import uses_sql_path
from bandwise.ops.importer.tables import (
    INT32_MAX,
    MISSING,
    TABLES,
    column_spec,
    model_spec,
)

_EXPECTED_KINDS: tuple[tuple[type[Any], str], ...] = (
    (sa.Enum, "enum"),
    (sa.Boolean, "bool"),
    (sa.Integer, "int"),
    (sa.JSON, "json"),
    (sa.String, "text"),
    (sa.Date, "date"),
    (UTCDateTime, "ts"),
)


def _expected_kind(column: sa.Column[Any]) -> str:
    if column.type is Band:
        return "band"
    return next(
        kind for python_type, kind in _EXPECTED_KINDS if isinstance(column.type, python_type)
    )


@pytest.mark.parametrize("table", Base.metadata.sorted_tables, ids=lambda table: table.name)
def test_every_column_spec_matches_its_model_column(table: sa.Table) -> None:
    spec = TABLES[table.name]
    assert set(spec.column_names) == set(table.columns.keys())
    for column in table.columns:
        found = spec.column(column.name)
        assert found.kind == _expected_kind(column), column.name
        assert found.nullable == column.nullable, column.name
        if found.kind == "text":
            assert found.max_length == getattr(column.type, "length", None), column.name
        if found.kind == "int":
            wide = isinstance(column.type, sa.BigInteger)
            assert found.int_range[1] == (2**63 - 1 if wide else INT32_MAX), column.name
        if found.kind == "enum":
            enum_class = column.type.enum_class  # type: ignore[attr-defined]
            assert found.enum_names == {member.name: member.value for member in enum_class}
        if column.nullable:
            assert found.default is None or found.derive is not None, column.name


def test_the_legacy_columns_come_first_in_copy_order() -> None:
    for name, legacy_table in legacy_metadata.tables.items():
        kept = [c.name for c in legacy_table.columns if c.name not in LEGACY_ONLY_USER_COLUMNS]
        assert TABLES[name].column_names[: len(kept)] == tuple(kept), name


def test_the_legacy_rules_are_the_only_hand_written_facts() -> None:
    submissions, assessments = TABLES["submissions"], TABLES["assessments"]
    word_count = submissions.column("word_count")
    assert word_count.derive is not None and word_count.required is False
    assert word_count.derive.compute("four words in here") == 4
    assert word_count.derive.compute(None) == 0
    assert submissions.column("processing_status").default == ProcessingStatus.COMPLETED.value
    assert submissions.column("task_type").enum is TaskType
    assert assessments.column("improvement_suggestions").text_as_list
    assert assessments.column("assessor").default == "legacy"  # the model's server default
    assert TABLES["users"].required and TABLES["users"].moved_columns == LEGACY_ONLY_USER_COLUMNS


def test_a_new_table_needs_no_importer_edit() -> None:
    metadata = sa.MetaData()
    sa.Table("users", metadata, sa.Column("id", sa.BigInteger, primary_key=True))
    votes = sa.Table(
        "feedback_votes",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("score", sa.SmallInteger, nullable=False),
        sa.Column("label", sa.String(20)),
        sa.Column("kind", sa.Enum(TaskType, name="vote_kind"), nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("'it''s'")),
    )

    spec = model_spec(votes)

    assert spec.parent == ("user_id", "users")
    assert spec.column("score").int_range == (-(2**15), 2**15 - 1)
    assert spec.column("label").max_length == 20 and spec.column("label").default is None
    assert spec.column("kind").enum_names == {"TASK_1": "task_1", "TASK_2": "task_2"}
    assert spec.column("hidden").default is False
    assert spec.column("note").default == "it's"
    assert spec.column("user_id").default is MISSING and spec.column("user_id").required


def test_a_column_added_to_a_legacy_table_joins_the_tail_and_keeps_the_sql_path() -> None:
    metadata = sa.MetaData()
    Base.metadata.tables["users"].to_metadata(metadata)
    table = Base.metadata.tables["submissions"].to_metadata(metadata)
    table.append_column(sa.Column("source", sa.String(32), nullable=True))

    spec = model_spec(table)

    assert spec.column_names[-1] == "source"
    assert spec.column("source").default is None
    legacy_columns = tuple(c.name for c in legacy_metadata.tables["submissions"].columns)
    assert uses_sql_path(spec, legacy_columns)


def test_a_column_type_without_a_conversion_is_refused() -> None:
    column = sa.Column("blob", sa.LargeBinary, nullable=False)
    sa.Table("files", sa.MetaData(), column)
    with pytest.raises(TypeError, match=r"files\.blob"):
        column_spec("files", column)
