"""create profiles

Revision ID: 0001
Revises:
Create Date: 2024-11-11 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # gen_random_uuid() exists on PostgreSQL (13+) only; elsewhere the app's uuid4 default suffices.
    is_postgresql = op.get_context().dialect.name == "postgresql"
    op.create_table(
        "profiles",
        sa.Column(
            "id",
            sa.Uuid(),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()") if is_postgresql else None,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("profiles")
