"""contact preferences: not on weekends

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 22:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_preferences") as batch:
        batch.add_column(
            sa.Column("avoid_weekends", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_preferences") as batch:
        batch.drop_column("avoid_weekends")
