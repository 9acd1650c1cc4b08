"""UserService: business rules over the test database, e-mail captured or mocked."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import AsyncMock, patch

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.exceptions import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from tasks_app.models import User, UserCreate, UserUpdate, utcnow
from tasks_app.security import decode_token
from tasks_app.services.users import UserService

from tests.factories import UserFactory

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


@pytest.fixture
def service(db_session: AsyncSession) -> UserService:
    return UserService(db_session)


class TestCreateUser:
    async def test_hashes_the_password(self, service: UserService) -> None:
        user = await service.create_user(
            UserCreate(name="John Doe", email="john@example.com", password="SecurePass123")
        )

        assert user.id is not None
        assert (user.email, user.name, user.role) == ("john@example.com", "John Doe", "user")
        assert user.password_hash != "SecurePass123"
        assert user.password_hash.startswith("$2b$")

    async def test_stores_the_address_in_lower_case(self, service: UserService) -> None:
        user = await service.create_user(
            UserCreate(name="Jo", email="Jo.Smith@Example.com", password="SecurePass123")
        )
        assert user.email == "jo.smith@example.com"

    async def test_rejects_a_registered_address(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        UserFactory(email="duplicate@example.com")
        await db_session.commit()

        with pytest.raises(ConflictError) as exc_info:
            await service.create_user(
                UserCreate(name="Another", email="DUPLICATE@example.com", password="Password123")
            )
        assert "already registered" in str(exc_info.value)

    async def test_rejects_a_short_password(self, service: UserService) -> None:
        with pytest.raises(ValidationError) as exc_info:
            await service.create_user(
                UserCreate(name="Weak", email="weak@example.com", password="123")
            )
        assert "at least 8 characters" in str(exc_info.value)

    async def test_rejects_a_password_bcrypt_cannot_hash(self, service: UserService) -> None:
        with pytest.raises(ValidationError, match="at most 72 bytes"):
            await service.create_user(
                UserCreate(name="Long", email="long@example.com", password="é" * 40)
            )

    async def test_sends_a_welcome_mail(self, service: UserService, mail_outbox) -> None:
        await service.create_user(
            UserCreate(name="Ada", email="ada@example.com", password="SecurePass123")
        )

        assert len(mail_outbox) == 1
        assert mail_outbox[0].to == ["ada@example.com"]
        assert "Welcome" in mail_outbox[0].subject
        assert "Hello Ada" in mail_outbox[0].text

    async def test_a_failing_mail_server_does_not_fail_sign_up(
        self, service: UserService, caplog: pytest.LogCaptureFixture
    ) -> None:
        with patch(
            "tasks_app.services.users.send_email", AsyncMock(side_effect=ConnectionRefusedError)
        ):
            user = await service.create_user(
                UserCreate(name="Bo", email="bo@example.com", password="SecurePass123")
            )

        assert user.id is not None
        assert "welcome e-mail to bo@example.com could not be sent" in caplog.text


class TestGetAndList:
    async def test_get_user(self, service: UserService, db_session: AsyncSession) -> None:
        user = UserFactory()
        await db_session.commit()

        found = await service.get_user(user.id)

        assert (found.id, found.email) == (user.id, user.email)

    async def test_get_missing_user(self, service: UserService) -> None:
        with pytest.raises(NotFoundError) as exc_info:
            await service.get_user(99999)
        assert "User 99999 not found" in str(exc_info.value)

    async def test_pagination(self, service: UserService, db_session: AsyncSession) -> None:
        UserFactory.create_batch(13)  # and the module's two standard users: 15
        await db_session.commit()

        page1, total = await service.list_users(skip=0, limit=10)
        page2, total2 = await service.list_users(skip=10, limit=10)

        assert (len(page1), total) == (10, 15)
        assert (len(page2), total2) == (5, 15)
        assert {u.id for u in page1}.isdisjoint(u.id for u in page2)

    async def test_search_is_case_insensitive_on_name_and_email(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        UserFactory(name="Alice Smith", email="alice@example.com")
        UserFactory(name="Bob Jones", email="bob@example.com")
        UserFactory(name="Charlie ALICE", email="charlie@example.com")
        UserFactory(name="Dana", email="dana.alicea@example.com")
        await db_session.commit()

        results, total = await service.list_users(search="Alice")

        assert total == 3
        assert {u.email for u in results} == {
            "alice@example.com",
            "charlie@example.com",
            "dana.alicea@example.com",
        }

    async def test_search_treats_wildcards_literally(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        UserFactory(name="100% Real")
        UserFactory(name="Fake")
        await db_session.commit()

        results, total = await service.list_users(search="%")

        assert total == 1
        assert results[0].name == "100% Real"


class TestUpdateUser:
    async def test_users_update_themselves(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        user = UserFactory(name="Old Name", created_at=utcnow() - timedelta(days=1))
        await db_session.commit()

        updated = await service.update_user(user.id, UserUpdate(name="New Name"), user.id)

        assert updated.name == "New Name"
        assert updated.updated_at > user.created_at

    async def test_users_may_not_update_others(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        user1, user2 = UserFactory.create_batch(2)
        await db_session.commit()

        with pytest.raises(PermissionError):
            await service.update_user(user2.id, UserUpdate(name="Hacked"), user1.id)

    async def test_admins_update_anyone(
        self, service: UserService, db_session: AsyncSession, admin_user: User
    ) -> None:
        user = UserFactory()
        await db_session.commit()

        updated = await service.update_user(user.id, UserUpdate(name="Renamed"), admin_user.id)

        assert updated.name == "Renamed"

    async def test_new_address_must_be_free(
        self, service: UserService, db_session: AsyncSession
    ) -> None:
        UserFactory(email="taken@example.com")
        user = UserFactory()
        await db_session.commit()

        with pytest.raises(ConflictError):
            await service.update_user(user.id, UserUpdate(email="Taken@example.com"), user.id)
        updated = await service.update_user(user.id, UserUpdate(email="Free@example.com"), user.id)
        assert updated.email == "free@example.com"


class TestAuthenticate:
    @patch("tasks_app.services.users.send_email")
    async def test_with_mocked_mail(self, mock_send_email: AsyncMock, service: UserService) -> None:
        await service.create_user(
            UserCreate(name="Email Test", email="emailtest@example.com", password="TestPass123")
        )
        mock_send_email.assert_awaited_once()
        assert "emailtest@example.com" in str(mock_send_email.call_args)

        result = await service.authenticate("emailtest@example.com", "TestPass123")

        assert result["user"].email == "emailtest@example.com"
        assert result["token_type"] == "bearer"
        assert decode_token(result["access_token"], "access") == result["user"].id
        assert decode_token(result["refresh_token"], "refresh") == result["user"].id

    async def test_wrong_password(self, service: UserService, test_user: User) -> None:
        with pytest.raises(AuthenticationError, match="Incorrect email or password"):
            await service.authenticate(test_user.email, "wrong-password")
        assert test_user.failed_login_attempts == 1

    async def test_unknown_address(self, service: UserService) -> None:
        with pytest.raises(AuthenticationError, match="Incorrect email or password"):
            await service.authenticate("nobody@example.com", "whatever123")

    async def test_inactive_user(self, service: UserService, db_session: AsyncSession) -> None:
        user = UserFactory(is_active=False)
        await db_session.commit()
        with pytest.raises(AuthenticationError, match="disabled"):
            await service.authenticate(user.email, "testpass123")

    async def test_lockout_after_five_failures(self, service: UserService, test_user: User) -> None:
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                await service.authenticate(test_user.email, "wrong-password")

        with pytest.raises(AccountLockedError, match="locked"):
            await service.authenticate(test_user.email, "testpass123")

    async def test_lock_expires(
        self, service: UserService, db_session: AsyncSession, test_user: User
    ) -> None:
        test_user.failed_login_attempts = 5
        test_user.locked_until = utcnow() - timedelta(seconds=1)
        await db_session.commit()

        result = await service.authenticate(test_user.email, "testpass123")

        assert result["user"].id == test_user.id
        assert (test_user.failed_login_attempts, test_user.locked_until) == (0, None)

    async def test_success_resets_the_failure_count(
        self, service: UserService, test_user: User
    ) -> None:
        with pytest.raises(AuthenticationError):
            await service.authenticate(test_user.email, "wrong-password")

        await service.authenticate(test_user.email, "testpass123")

        assert test_user.failed_login_attempts == 0
