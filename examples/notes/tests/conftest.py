"""Fixtures only the Notes App needs; database, clients and isolation come from the plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from notes_app.dao import NoteDAO, UserDAO
from notes_app.models import User
from notes_app.security import hash_password

PASSWORD = "testpassword"


@dataclass(frozen=True)
class AuthenticatedUser:
    """A user in the database and the tokens ``POST /token/`` gave them."""

    user: User
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


CreateAuthenticatedUser = Callable[[str], Awaitable[AuthenticatedUser]]


@pytest.fixture
def user_dao(db_session: AsyncSession) -> UserDAO:
    return UserDAO(db=db_session)


@pytest.fixture
def note_dao(db_session: AsyncSession) -> NoteDAO:
    return NoteDAO(db=db_session)


@pytest.fixture
def create_authenticated_user(
    sync_client: TestClient, user_dao: UserDAO
) -> CreateAuthenticatedUser:
    """``await create_authenticated_user("name")``: a user whose password is PASSWORD, logged in."""

    async def create(username: str) -> AuthenticatedUser:
        user = await user_dao.create(
            username=username, full_name=username.title(), hashed_password=hash_password(PASSWORD)
        )
        response = sync_client.post("/token/", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        tokens = response.json()
        return AuthenticatedUser(user, tokens["access_token"], tokens["refresh_token"])

    return create


@pytest_asyncio.fixture
async def authenticated_user(
    create_authenticated_user: CreateAuthenticatedUser,
) -> AuthenticatedUser:
    return await create_authenticated_user("testuser")


@pytest_asyncio.fixture
async def other_user(create_authenticated_user: CreateAuthenticatedUser) -> AuthenticatedUser:
    return await create_authenticated_user("otheruser")
