"""Import quarantine: legacy rows an import set aside, with the reason.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from bandwise.db.migrations.legacy_rules_0002 import SET_ASIDE_TABLE

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("source_table", sa.String(64), nullable=False),
        sa.Column("source_id", sa.BigInteger),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column(
            "row_data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_quarantine"),
    )
    op.create_index(
        "ix_import_quarantine_source", "import_quarantine", ["source_table", "source_id"]
    )
    _file_rows_set_aside_by_0002()


def _file_rows_set_aside_by_0002() -> None:
    """Move the legacy rows 0002 set aside (--quarantine-orphans) into import_quarantine."""
    bind = op.get_bind()
    if SET_ASIDE_TABLE not in sa.inspect(bind).get_table_names():
        return
    row_data = "CAST(row_data AS JSONB)" if bind.dialect.name == "postgresql" else "row_data"
    op.execute(
        sa.text(
            "INSERT INTO import_quarantine (source_table, source_id, reason, row_data, "
            f"quarantined_at) SELECT source_table, source_id, reason, {row_data}, quarantined_at "
            f"FROM {SET_ASIDE_TABLE} ORDER BY position"
        )
    )
    op.drop_table(SET_ASIDE_TABLE)


def downgrade() -> None:
    op.drop_index("ix_import_quarantine_source", "import_quarantine")
    op.drop_table("import_quarantine")
