"""Item categories: the reference table, and an optional category for each item.

The categories themselves are reference data, written by `python -m items_app.db.seed`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    foreign_key = op.f("fk_items_category_id_categories")
    if _sqlite():
        # SQLite takes a new foreign key only inline in ADD COLUMN; batch mode would rebuild
        # the table, and its copy of the rows fails on the generated live_name column.
        op.add_column(
            "items",
            sa.Column(
                "category_id", sa.Integer(), sa.ForeignKey("categories.id", name=foreign_key)
            ),
            inline_references=True,
        )
    else:
        op.add_column("items", sa.Column("category_id", sa.Integer(), nullable=True))
        op.create_foreign_key(foreign_key, "items", "categories", ["category_id"], ["id"])
    op.create_index(op.f("ix_items_category_id"), "items", ["category_id"])


def downgrade() -> None:
    if not _sqlite():  # MariaDB keeps the index while the foreign key needs it
        op.drop_constraint(op.f("fk_items_category_id_categories"), "items", type_="foreignkey")
    op.drop_index(op.f("ix_items_category_id"), table_name="items")
    op.drop_column("items", "category_id")  # SQLite drops an inline foreign key with it
    op.drop_table("categories")
