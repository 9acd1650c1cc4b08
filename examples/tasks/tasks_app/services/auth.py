"""AuthService: login, token refresh and password reset by e-mailed link."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.config import settings
from tasks_app.email import send_email
from tasks_app.exceptions import AuthenticationError, ValidationError
from tasks_app.models import PasswordResetToken, TokenPair, User, utcnow
from tasks_app.security import (
    create_access_token,
    create_refresh_token,
    decode_token,
    digest_reset_token,
    new_reset_token,
)
from tasks_app.services.users import UserService

logger = logging.getLogger(__name__)

INVALID_RESET_TOKEN = "Invalid or expired password reset token"


class AuthService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserService(session)

    async def login(self, email: str, password: str) -> TokenPair:
        result = await self.users.authenticate(email, password)
        return TokenPair(access_token=result["access_token"], refresh_token=result["refresh_token"])

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A fresh token pair for a valid refresh token of an active user."""
        user = await self.session.get(User, decode_token(refresh_token, "refresh"))
        if user is None or not user.is_active:
            raise AuthenticationError("Could not validate credentials")
        return TokenPair(
            access_token=create_access_token(user), refresh_token=create_refresh_token(user)
        )

    async def request_password_reset(self, email: str) -> None:
        """E-mail a single-use reset link. Unknown addresses are silently ignored, so the
        answer never reveals who has an account."""
        user = await self.users.get_user_by_email(email)
        if user is None or not user.is_active:
            return
        token, digest = new_reset_token()
        self.session.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=digest,
                expires_at=utcnow() + timedelta(minutes=settings.password_reset_expire_minutes),
            )
        )
        await self.session.commit()
        link = f"{settings.frontend_url}/reset-password?token={token}"
        try:
            await send_email(
                to=user.email,
                subject="Reset your Tasks password",
                body=(
                    f"Hello {user.name},\n\nto choose a new password, open\n{link}\n\n"
                    f"The link expires in {settings.password_reset_expire_minutes} minutes. "
                    "If you did not ask for it, ignore this e-mail.\n"
                ),
            )
        except OSError:
            logger.warning("password-reset e-mail to %s could not be sent", email, exc_info=True)

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        """Set the new password and spend every outstanding reset token of that user."""
        result = await self.session.exec(
            select(PasswordResetToken).where(
                PasswordResetToken.token_hash == digest_reset_token(token)
            )
        )
        reset = result.first()
        now = utcnow()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise ValidationError(INVALID_RESET_TOKEN)
        user = await self.users.get_user(reset.user_id)
        await self.users.set_password(user, new_password)
        await self.session.exec(
            update(PasswordResetToken)
            .where(col(PasswordResetToken.user_id) == user.id)
            .where(col(PasswordResetToken.used_at).is_(None))
            .values(used_at=now)
        )
        await self.session.commit()
