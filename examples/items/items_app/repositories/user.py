from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from items_app.models import User, UserSession
from items_app.repositories.base import BaseRepository


class UserRepository(BaseRepository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        return await self.get_by(email=email.lower())


class SessionRepository(BaseRepository[UserSession]):
    model = UserSession

    async def get_by_token_hash(self, token_hash: str) -> UserSession | None:
        return await self.get_by(token_hash=token_hash)

    async def delete_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(UserSession).where(UserSession.expires_at <= now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
