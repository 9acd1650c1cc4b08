from __future__ import annotations

from sqlalchemy import Computed, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from items_app.db.base import Base, SoftDeleteMixin, TimestampMixin, UUIDMixin
from items_app.models.category import Category

NAME_MAX_LENGTH = 255
# Case-sensitive names everywhere: MariaDB's default collation would make "Lamp" == "lamp".
NameType = String(NAME_MAX_LENGTH).with_variant(
    mysql.VARCHAR(NAME_MAX_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)


class Item(UUIDMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "items"

    name: Mapped[str] = mapped_column(NameType, nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id"), default=None, index=True
    )
    # Joined: an item is never read without its category (async sessions cannot lazy-load).
    category: Mapped[Category | None] = relationship(lazy="joined")

    # Names are unique among live items only: a deleted item frees its name. The generated
    # column is NULL for deleted rows and NULLs never collide in a unique index. Unlike a
    # partial index (PostgreSQL, SQLite) this works on MariaDB too.
    live_name: Mapped[str | None] = mapped_column(
        NameType,
        Computed("CASE WHEN deleted_at IS NULL THEN name END", persisted=True),
        deferred=True,
    )

    __table_args__ = (UniqueConstraint("live_name"),)

    def __repr__(self) -> str:
        return f"Item(id={self.id!s}, name={self.name!r}, deleted={self.is_deleted})"
