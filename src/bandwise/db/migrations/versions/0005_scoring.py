"""Scoring: the task question, the likely band range, the disagreement flag, the result cache.

Revision ID: 0005_scoring
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_scoring"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_band = sa.Numeric(4, 2)


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("prompt", sa.Text(), nullable=True))
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("band_low", _band, nullable=True))
        batch.add_column(sa.Column("band_high", _band, nullable=True))
        batch.add_column(
            sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
    op.create_index("ix_assessments_content_hash", "assessments", ["content_hash"])


def downgrade() -> None:
    op.drop_index("ix_assessments_content_hash", "assessments")
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("content_hash")
        batch.drop_column("flagged")
        batch.drop_column("band_high")
        batch.drop_column("band_low")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("prompt")
