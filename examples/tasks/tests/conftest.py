"""The app's people; the database, clients and mail capture come from the plugin.

The standard user and the admin are written once per test module (`standard_users`, through
the plugin's `testbed_data`): committed before the module's first test, seen by every test of
the module, taken out when the module ends. Each test still runs in its own rolled-back
transaction, so what a test does to them (a lockout, a new password) is gone for the next one.

The app is imported inside the fixtures, not at the top: a conftest is imported before the
test modules, and the app must read its settings from the test environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession
    from tasks_app.models import User

USER_PASSWORD = "testpass123"
ADMIN_PASSWORD = "adminpass123"


@dataclass(frozen=True)
class Account:
    """One of the module's standard users: what a test needs to act as them over HTTP."""

    id: int
    email: str
    password: str
    headers: dict[str, str]  # Authorization: Bearer <access token>


@dataclass(frozen=True)
class StandardUsers:
    user: Account
    admin: Account


def bearer_for(user: User) -> dict[str, str]:
    from tasks_app.security import create_access_token

    return {"Authorization": f"Bearer {create_access_token(user)}"}


@pytest.fixture(scope="module")
def standard_users(testbed_data: Any) -> StandardUsers:
    """test@example.com ("testpass123") and the admin admin@example.com ("adminpass123"),
    with an access token each: written and minted once for the whole module."""
    from tasks_app.models import UserRole

    from tests.factories import UserFactory  # imported first: factories bound in the block

    with testbed_data.session():  # the factories write through it; committed at the end
        user = UserFactory(email="test@example.com", name="Test User", password=USER_PASSWORD)
        admin = UserFactory(
            email="admin@example.com",
            name="Admin User",
            role=UserRole.ADMIN,
            password=ADMIN_PASSWORD,
        )
    return StandardUsers(
        user=Account(user.id, user.email, USER_PASSWORD, bearer_for(user)),
        admin=Account(admin.id, admin.email, ADMIN_PASSWORD, bearer_for(admin)),
    )


@pytest.fixture
async def test_user(db_session: AsyncSession, standard_users: StandardUsers) -> User:
    """The standard user, loaded in the test's session: change it, the test's change only."""
    from tasks_app.models import User

    user = await db_session.get(User, standard_users.user.id)
    assert user is not None
    return user


@pytest.fixture
async def admin_user(db_session: AsyncSession, standard_users: StandardUsers) -> User:
    from tasks_app.models import User

    admin = await db_session.get(User, standard_users.admin.id)
    assert admin is not None
    return admin


@pytest.fixture
def auth_headers(standard_users: StandardUsers) -> dict[str, str]:
    return dict(standard_users.user.headers)


@pytest.fixture
def admin_headers(standard_users: StandardUsers) -> dict[str, str]:
    return dict(standard_users.admin.headers)
