"""Payments: Telegram Stars purchases of Pro, unique per Telegram charge id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("user_id", _id, nullable=False),
        sa.Column("telegram_payment_charge_id", sa.String(255), nullable=False),
        sa.Column("provider_payment_charge_id", sa.String(255)),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("invoice_payload", sa.String(128), nullable=False),
        sa.Column("pro_days", sa.Integer, nullable=False),
        sa.Column("pro_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_payments_user_id_users"
        ),
        sa.UniqueConstraint(
            "telegram_payment_charge_id", name="uq_payments_telegram_payment_charge_id"
        ),
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_payments_user_id", "payments")
    op.drop_table("payments")
