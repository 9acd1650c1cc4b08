"""Users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from notes_app.models import User


class UsernameTakenError(Exception):
    """Another user already has this username."""


class UserDAO:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create(self, *, username: str, full_name: str, hashed_password: str) -> User:
        """Insert and commit a user; raise UsernameTakenError if the name is in use."""
        user = User(username=username, full_name=full_name, hashed_password=hashed_password)
        self.db.add(user)
        try:
            await self.db.commit()
        except IntegrityError as exc:
            # The unique index catches the race two concurrent registrations would win together.
            await self.db.rollback()
            raise UsernameTakenError(username) from exc
        return user

    async def get_user_by_id(self, user_id: int) -> User | None:
        return await self.db.scalar(select(User).where(User.id == user_id))

    async def get_user_by_username(self, username: str) -> User | None:
        return await self.db.scalar(select(User).where(User.username == username))
