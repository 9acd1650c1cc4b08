"""Blog-specific helpers. Database, client, S3 and mail come from the fastapi-testbed plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx2 import AsyncClient

DEFAULT_USERNAME = "testuser"
DEFAULT_EMAIL = "test@example.com"
DEFAULT_PASSWORD = "testpassword123"

CreateUser = Callable[..., Awaitable[dict[str, Any]]]
LoginUser = Callable[..., Awaitable[str]]
AuthHeader = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def create_user(client: AsyncClient) -> CreateUser:
    """`await create_user(username=..., email=...)`: sign up through the API, return the body."""

    async def create(
        username: str = DEFAULT_USERNAME,
        email: str = DEFAULT_EMAIL,
        password: str = DEFAULT_PASSWORD,
    ) -> dict[str, Any]:
        body = {"username": username, "email": email, "password": password}
        response = await client.post("/api/users", json=body)
        assert response.status_code == 201, f"could not create {username}: {response.text}"
        return response.json()

    return create


@pytest.fixture
def login_user(client: AsyncClient) -> LoginUser:
    """`await login_user(email=...)`: log in with the OAuth2 form, return the access token."""

    async def login(email: str = DEFAULT_EMAIL, password: str = DEFAULT_PASSWORD) -> str:
        # OAuth2PasswordRequestForm takes form fields, not JSON; `username` holds the e-mail.
        response = await client.post(
            "/api/users/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, f"could not log in {email}: {response.text}"
        return response.json()["access_token"]

    return login


@pytest.fixture
def auth_header(login_user: LoginUser) -> AuthHeader:
    """`await auth_header(email=...)`: log in and return the Authorization header."""

    async def header(
        email: str = DEFAULT_EMAIL, password: str = DEFAULT_PASSWORD
    ) -> dict[str, str]:
        token = await login_user(email, password)
        return {"Authorization": f"Bearer {token}"}

    return header
