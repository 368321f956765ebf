"""Legacy baseline: the schema the old SQLite bot created.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

A database created by the legacy bot (these tables, no ``alembic_version``) is stamped at
this revision and upgraded in place from here.
"""

from collections.abc import Sequence

from alembic import op

from bandwise.legacy.schema import legacy_metadata

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    legacy_metadata.create_all(op.get_bind())


def downgrade() -> None:
    legacy_metadata.drop_all(op.get_bind())
