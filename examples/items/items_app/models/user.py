from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from items_app.db.base import Base, TimestampMixin, UTCDateTime, UUIDMixin, utcnow


class User(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "users"

    # 320 = the longest valid address; stored lower-cased so lookups need no function index.
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"User(id={self.id!s}, email={self.email!r})"


class UserSession(UUIDMixin, Base):
    """A logged-in session; the bearer token is known only by its SHA-256 digest."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    user: Mapped[User] = relationship(back_populates="sessions", lazy="joined")

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now
