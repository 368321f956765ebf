"""Import quarantine: legacy rows an import set aside, with the reason.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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


def downgrade() -> None:
    op.drop_index("ix_import_quarantine_source", "import_quarantine")
    op.drop_table("import_quarantine")
