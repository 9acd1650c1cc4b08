"""AuthService: refresh tokens and password-reset tokens."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest.mock import AsyncMock, patch

import jwt
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.config import settings
from tasks_app.exceptions import AuthenticationError, ValidationError
from tasks_app.models import PasswordResetToken, User, utcnow
from tasks_app.security import create_access_token, create_refresh_token, verify_password
from tasks_app.services.auth import INVALID_RESET_TOKEN, AuthService

from tests.factories import UserFactory

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


@pytest.fixture
def auth(db_session: AsyncSession) -> AuthService:
    return AuthService(db_session)


async def request_token(auth: AuthService, user: User) -> str:
    with patch("tasks_app.services.auth.send_email", AsyncMock()) as send:
        await auth.request_password_reset(user.email)
    match = re.search(r"token=([A-Za-z0-9_-]+)", send.call_args.kwargs["body"])
    assert match is not None
    return match.group(1)


class TestLoginAndRefresh:
    async def test_login_returns_a_bearer_pair(self, auth: AuthService, test_user: User) -> None:
        pair = await auth.login("test@example.com", "testpass123")
        assert pair.token_type == "bearer"
        assert pair.access_token != pair.refresh_token

    async def test_refresh_returns_new_tokens(self, auth: AuthService, test_user: User) -> None:
        refresh_token = create_refresh_token(test_user)
        pair = await auth.refresh(refresh_token)
        assert pair.refresh_token != refresh_token

    async def test_an_access_token_cannot_refresh(self, auth: AuthService, test_user: User) -> None:
        with pytest.raises(AuthenticationError, match="Could not validate credentials"):
            await auth.refresh(create_access_token(test_user))

    async def test_expired_refresh_token(self, auth: AuthService, test_user: User) -> None:
        expired = jwt.encode(
            {"sub": str(test_user.id), "type": "refresh", "exp": utcnow() - timedelta(1)},
            settings.secret_key,
            algorithm=settings.jwt_algorithm,
        )
        with pytest.raises(AuthenticationError, match="expired"):
            await auth.refresh(expired)

    async def test_refresh_for_a_deactivated_user(
        self, auth: AuthService, db_session: AsyncSession
    ) -> None:
        user = UserFactory(is_active=False)
        await db_session.commit()
        with pytest.raises(AuthenticationError):
            await auth.refresh(create_refresh_token(user))


class TestPasswordReset:
    async def test_stores_only_a_digest(
        self, auth: AuthService, db_session: AsyncSession, test_user: User
    ) -> None:
        token = await request_token(auth, test_user)

        stored = (await db_session.exec(select(PasswordResetToken))).one()
        assert stored.user_id == test_user.id
        assert token not in stored.token_hash
        assert stored.expires_at > utcnow() + timedelta(minutes=59)

    async def test_unknown_address_sends_nothing(self, auth: AuthService) -> None:
        with patch("tasks_app.services.auth.send_email", AsyncMock()) as send:
            await auth.request_password_reset("nobody@example.com")
        send.assert_not_awaited()

    async def test_confirm_sets_the_password_and_lifts_a_lock(
        self, auth: AuthService, db_session: AsyncSession, test_user: User
    ) -> None:
        token = await request_token(auth, test_user)
        test_user.failed_login_attempts, test_user.locked_until = 5, utcnow() + timedelta(1)
        await db_session.commit()

        await auth.confirm_password_reset(token, "BrandNewPass1")

        assert verify_password("BrandNewPass1", test_user.password_hash)
        assert (test_user.failed_login_attempts, test_user.locked_until) == (0, None)

    async def test_a_token_works_once(self, auth: AuthService, test_user: User) -> None:
        token = await request_token(auth, test_user)
        await auth.confirm_password_reset(token, "BrandNewPass1")

        with pytest.raises(ValidationError, match=INVALID_RESET_TOKEN):
            await auth.confirm_password_reset(token, "AnotherPass1")

    async def test_an_expired_token_is_refused(
        self, auth: AuthService, db_session: AsyncSession, test_user: User
    ) -> None:
        token = await request_token(auth, test_user)
        stored = (await db_session.exec(select(PasswordResetToken))).one()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        await db_session.commit()

        with pytest.raises(ValidationError, match=INVALID_RESET_TOKEN):
            await auth.confirm_password_reset(token, "BrandNewPass1")

    async def test_an_unknown_token_is_refused(self, auth: AuthService) -> None:
        with pytest.raises(ValidationError, match=INVALID_RESET_TOKEN):
            await auth.confirm_password_reset("not-a-token", "BrandNewPass1")

    async def test_the_new_password_must_be_strong(
        self, auth: AuthService, test_user: User
    ) -> None:
        token = await request_token(auth, test_user)
        with pytest.raises(ValidationError, match="at least 8 characters"):
            await auth.confirm_password_reset(token, "short")
