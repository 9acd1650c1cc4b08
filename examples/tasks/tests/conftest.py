"""The app's own people; the database, clients and mail capture come from the plugin."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.models import User, UserRole
from tasks_app.security import create_access_token

from tests.factories import UserFactory


@pytest.fixture
async def test_user(db_session: AsyncSession) -> User:
    """An active user, test@example.com, password "testpass123"."""
    user = UserFactory(email="test@example.com", name="Test User")
    await db_session.commit()
    return user


@pytest.fixture
async def admin_user(db_session: AsyncSession) -> User:
    user = UserFactory(
        email="admin@example.com", name="Admin User", role=UserRole.ADMIN, password="adminpass123"
    )
    await db_session.commit()
    return user


@pytest.fixture
def auth_headers(test_user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_access_token(test_user)}"}


@pytest.fixture
def admin_headers(admin_user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_access_token(admin_user)}"}
