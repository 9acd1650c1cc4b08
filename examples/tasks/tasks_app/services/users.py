"""UserService: registration, look-up, listing, profile updates and authentication."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.config import settings
from tasks_app.email import send_email
from tasks_app.exceptions import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tasks_app.models import User, UserCreate, UserUpdate, utcnow
from tasks_app.security import (
    create_access_token,
    create_refresh_token,
    hash_password,
    verify_password,
)

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt>=5: rejects) anything longer
INVALID_CREDENTIALS = "Incorrect email or password"
ACCOUNT_LOCKED = "Account locked after too many failed logins; try again later"
ACCOUNT_DISABLED = "Account disabled"


def check_password_strength(password: str) -> None:
    """Raise `ValidationError` unless `password` is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationError(f"Password must be at most {MAX_PASSWORD_BYTES} bytes")


async def hash_password_off_loop(password: str) -> str:
    # bcrypt is deliberately slow: keep it off the event loop.
    return await anyio.to_thread.run_sync(hash_password, password)


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_user(self, data: UserCreate) -> User:
        """Register a user and send the welcome e-mail (best effort)."""
        email = data.email.lower()
        check_password_strength(data.password)
        if await self.get_user_by_email(email) is not None:
            raise ConflictError(f"Email {email} is already registered")
        user = User(
            email=email,
            name=data.name,
            password_hash=await hash_password_off_loop(data.password),
        )
        self.session.add(user)
        try:
            await self.session.commit()
        except IntegrityError as error:  # lost a race with a concurrent registration
            await self.session.rollback()
            raise ConflictError(f"Email {email} is already registered") from error
        await self._send_welcome(user)
        return user

    async def _send_welcome(self, user: User) -> None:
        try:
            await send_email(
                to=user.email,
                subject="Welcome to Tasks",
                body=f"Hello {user.name},\n\nyour account {user.email} is ready.\n",
            )
        except OSError:
            # The account exists either way; a lost welcome mail must not fail sign-up.
            logger.warning("welcome e-mail to %s could not be sent", user.email, exc_info=True)

    async def get_user(self, user_id: int) -> User:
        user = await self.session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"User {user_id} not found")
        return user

    async def get_user_by_email(self, email: str) -> User | None:
        result = await self.session.exec(select(User).where(User.email == email.lower()))
        return result.first()

    async def list_users(
        self, skip: int = 0, limit: int = 100, search: str | None = None
    ) -> tuple[list[User], int]:
        """One page of users ordered by id, and the total matching `search`
        (case-insensitive, in name or e-mail)."""
        conditions = []
        if search:
            term = search.lower()
            conditions.append(
                or_(
                    func.lower(User.name).contains(term, autoescape=True),
                    func.lower(User.email).contains(term, autoescape=True),
                )
            )
        total = (
            await self.session.exec(select(func.count()).select_from(User).where(*conditions))
        ).one()
        page = await self.session.exec(
            select(User).where(*conditions).order_by(col(User.id)).offset(skip).limit(limit)
        )
        return list(page.all()), total

    async def update_user(self, user_id: int, data: UserUpdate, current_user_id: int) -> User:
        """Apply `data`; users may change only themselves, admins anyone."""
        if user_id != current_user_id:
            current = await self.get_user(current_user_id)
            if not current.is_admin:
                raise PermissionDeniedError("You may only update your own profile")
        user = await self.get_user(user_id)
        changes = data.model_dump(exclude_unset=True)
        if "email" in changes:
            changes["email"] = changes["email"].lower()
            other = await self.get_user_by_email(changes["email"])
            if other is not None and other.id != user.id:
                raise ConflictError(f"Email {changes['email']} is already registered")
        for field, value in changes.items():
            setattr(user, field, value)
        user.updated_at = utcnow()
        await self.session.commit()
        return user

    async def set_password(self, user: User, password: str) -> None:
        """Replace the password; also lifts a lockout. The caller commits."""
        check_password_strength(password)
        user.password_hash = await hash_password_off_loop(password)
        user.failed_login_attempts = 0
        user.locked_until = None
        user.updated_at = utcnow()

    async def authenticate(self, email: str, password: str) -> dict[str, Any]:
        """Tokens for valid credentials: `{"access_token", "refresh_token", "token_type",
        "user"}`. After `MAX_FAILED_LOGINS` failures in a row the account is locked for
        `LOCKOUT_MINUTES`, and even the right password is refused until then."""
        user = await self.get_user_by_email(email)
        if user is None:
            raise AuthenticationError(INVALID_CREDENTIALS)
        now = utcnow()
        if user.locked_until is not None:
            if user.locked_until > now:
                raise AccountLockedError(ACCOUNT_LOCKED)
            user.locked_until = None
            user.failed_login_attempts = 0
        if not await anyio.to_thread.run_sync(verify_password, password, user.password_hash):
            user.failed_login_attempts += 1
            if user.failed_login_attempts >= settings.max_failed_logins:
                user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            await self.session.commit()  # the count must survive the 401
            raise AuthenticationError(INVALID_CREDENTIALS)
        if not user.is_active:
            raise AuthenticationError(ACCOUNT_DISABLED)
        if user.failed_login_attempts:
            user.failed_login_attempts = 0
            await self.session.commit()
        return {
            "access_token": create_access_token(user),
            "refresh_token": create_refresh_token(user),
            "token_type": "bearer",
            "user": user,
        }
