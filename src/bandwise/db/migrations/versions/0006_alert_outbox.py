"""Alert outbox: alert messages kept until every destination took them, across restarts.

Revision ID: 0006_alert_outbox
Revises: 0005_scoring
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_alert_outbox"
down_revision: str | None = "0005_scoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("alert", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", _json, nullable=False),
        sa.Column("pending", _json, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outbox"),
    )
    op.create_index("ix_alert_outbox_alert", "alert_outbox", ["alert"])
    op.create_index("ix_alert_outbox_done_at", "alert_outbox", ["done_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_done_at", "alert_outbox")
    op.drop_index("ix_alert_outbox_alert", "alert_outbox")
    op.drop_table("alert_outbox")
