from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from items_app.core import security
from items_app.core.config import Settings
from items_app.core.errors import AuthenticationError, ConflictError
from items_app.db.base import utcnow
from items_app.models import User, UserSession
from items_app.repositories import SessionRepository, UserRepository
from items_app.schemas.auth import LoginRequest, RegisterRequest, SessionToken


class AuthService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)

    async def register(self, data: RegisterRequest) -> User:
        if await self.users.get_by_email(data.email) is not None:
            raise ConflictError("This e-mail is already registered", details={"email": data.email})
        try:
            user = await self.users.create(
                {"email": data.email, "password_hash": security.hash_password(data.password)}
            )
        except IntegrityError as exc:
            await self.session.rollback()
            raise ConflictError("This e-mail is already registered") from exc
        await self.session.commit()
        return user

    async def login(self, data: LoginRequest) -> SessionToken:
        user = await self.users.get_by_email(data.email)
        password_hash = user.password_hash if user is not None else None
        if not security.verify_password(password_hash, data.password) or user is None:
            raise AuthenticationError("Invalid e-mail or password")
        if not user.is_active:
            raise AuthenticationError("This account is disabled")
        if security.password_needs_rehash(user.password_hash):
            user.password_hash = security.hash_password(data.password)

        now = utcnow()
        await self.sessions.delete_expired(now)
        token = security.new_session_token()
        session = await self.sessions.create(
            {
                "user_id": user.id,
                "token_hash": security.hash_session_token(token),
                "expires_at": now + timedelta(minutes=self.settings.session_ttl_minutes),
            }
        )
        await self.session.commit()
        return SessionToken(access_token=token, expires_at=session.expires_at)

    async def authenticate(self, token: str) -> UserSession:
        """The live session of this bearer token, or 401."""
        session = await self.sessions.get_by_token_hash(security.hash_session_token(token))
        if session is None:
            raise AuthenticationError("Invalid or expired session")
        if session.is_expired(utcnow()):
            await self.sessions.delete(session)
            await self.session.commit()
            raise AuthenticationError("Invalid or expired session")
        if not session.user.is_active:
            raise AuthenticationError("This account is disabled")
        return session

    async def logout(self, session: UserSession) -> None:
        await self.sessions.delete(session)
        await self.session.commit()
