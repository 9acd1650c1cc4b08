"""The app's own people; the database, clients and mail capture come from the plugin.

The app is imported inside the fixtures, not at the top: a conftest is imported before the
test modules, and the app must read its settings from the test environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession
    from tasks_app.models import User


@pytest.fixture
async def test_user(db_session: AsyncSession) -> User:
    """An active user, test@example.com, password "testpass123"."""
    from tests.factories import UserFactory

    user = UserFactory(email="test@example.com", name="Test User")
    await db_session.commit()
    return user


@pytest.fixture
async def admin_user(db_session: AsyncSession) -> User:
    from tasks_app.models import UserRole

    from tests.factories import UserFactory

    user = UserFactory(
        email="admin@example.com", name="Admin User", role=UserRole.ADMIN, password="adminpass123"
    )
    await db_session.commit()
    return user


def bearer_for(user: User) -> dict[str, str]:
    from tasks_app.security import create_access_token

    return {"Authorization": f"Bearer {create_access_token(user)}"}


@pytest.fixture
def auth_headers(test_user: User) -> dict[str, str]:
    return bearer_for(test_user)


@pytest.fixture
def admin_headers(admin_user: User) -> dict[str, str]:
    return bearer_for(admin_user)
