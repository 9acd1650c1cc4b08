"""Session-based auth: register, login (opaque token), me, logout."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from httpx2 import AsyncClient
from items_app.core import config
from items_app.core.security import hash_session_token
from items_app.db.base import utcnow
from items_app.models import User, UserSession
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_testbed import assert_database_count, assert_database_has, assert_database_missing

SEVEN_DAYS = timedelta(days=7)  # the default SESSION_TTL_MINUTES; the test environment keeps it


async def test_register(client: AsyncClient, db_session: AsyncSession) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": "Ada@Example.com", "password": "s3cret-pass"}
    )

    assert response.status_code == 201
    data = response.json()
    assert data["email"] == "ada@example.com"
    assert data["is_active"] is True
    assert "password" not in data and "password_hash" not in data
    user = await db_session.scalar(select(User).where(User.email == "ada@example.com"))
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")


async def test_register_twice_conflicts(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> None:
    response = await client.post("/api/v1/auth/register", json=credentials)

    assert response.status_code == 409
    assert response.json()["error_code"] == "CONFLICT"
    assert_database_count(User, 1, email=credentials["email"])


async def test_register_validates_email_and_password(client: AsyncClient) -> None:
    for body in (
        {"email": "nope", "password": "long enough"},
        {"email": "a@b.io", "password": "x"},
    ):
        response = await client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 422, body
        assert response.json()["error_code"] == "VALIDATION_ERROR"


async def test_login_returns_a_session_token(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> None:
    response = await client.post("/api/v1/auth/login", json=credentials)

    assert response.status_code == 200
    data = response.json()
    assert data["token_type"] == "bearer"
    token = data["access_token"]
    assert_database_has(
        UserSession,
        token_hash=hash_session_token(token),
        user_id=uuid.UUID(registered_user["id"]),
    )
    # Only the digest is stored, never the token itself.
    assert_database_missing(UserSession, token_hash=token)


async def test_login_with_wrong_password(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={**credentials, "password": "wrong password"}
    )

    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_login_with_unknown_email(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": "whatever1"}
    )

    assert response.status_code == 401
    assert response.json()["message"] == "Invalid e-mail or password"


async def test_me(
    client: AsyncClient, registered_user: dict[str, Any], auth_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/auth/me", headers=auth_headers)

    assert response.status_code == 200
    assert response.json() == registered_user


async def test_me_without_token(client: AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json() == {
        "error_code": "UNAUTHORIZED",
        "message": "Missing bearer token",
        "details": None,
    }


async def test_me_with_unknown_token(client: AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged"})

    assert response.status_code == 401


async def test_expired_session_is_rejected_and_removed(
    client: AsyncClient, auth_headers: dict[str, str], db_session: AsyncSession
) -> None:
    token = auth_headers["Authorization"].removeprefix("Bearer ")
    session = await db_session.scalar(
        select(UserSession).where(UserSession.token_hash == hash_session_token(token))
    )
    assert session is not None
    session.expires_at = utcnow() - timedelta(seconds=1)
    await db_session.flush()

    response = await client.get("/api/v1/auth/me", headers=auth_headers)

    assert response.status_code == 401
    assert_database_count(UserSession, 0)


async def test_logout_deletes_the_session(
    client: AsyncClient, auth_headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/auth/logout", headers=auth_headers)

    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=auth_headers)).status_code == 401
    assert_database_count(UserSession, 0)


async def test_logout_without_token(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout")

    assert response.status_code == 401


async def test_each_login_is_its_own_session(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> None:
    first = (await client.post("/api/v1/auth/login", json=credentials)).json()["access_token"]
    second = (await client.post("/api/v1/auth/login", json=credentials)).json()["access_token"]

    await client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"})

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"})
    assert me.status_code == 200
    assert_database_missing(UserSession, token_hash=hash_session_token(first))
    assert_database_count(UserSession, 1, user_id=uuid.UUID(registered_user["id"]))


async def test_sessions_last_as_long_as_the_settings_say(
    client: AsyncClient,
    registered_user: dict[str, Any],
    credentials: dict[str, str],
    settings: config.Settings,
) -> None:
    """The app reads SESSION_TTL_MINUTES at each login: the `settings` fixture changes it here."""
    settings.session_ttl_minutes = 5
    before = utcnow()

    response = await client.post("/api/v1/auth/login", json=credentials)

    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert before + timedelta(minutes=5) <= expires_at <= utcnow() + timedelta(minutes=5)


async def test_other_tests_get_the_session_lifetime_of_the_environment(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> None:
    """What a test sets through `settings` is put back after it, on get_settings()'s object
    and on the module-level `settings` alike."""
    assert config.get_settings().session_ttl_minutes == SEVEN_DAYS // timedelta(minutes=1)
    assert config.settings.session_ttl_minutes == SEVEN_DAYS // timedelta(minutes=1)
    before = utcnow()

    response = await client.post("/api/v1/auth/login", json=credentials)

    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert before + SEVEN_DAYS <= expires_at <= utcnow() + SEVEN_DAYS


async def test_items_stay_public(client: AsyncClient) -> None:
    response = await client.post("/api/v1/items", json={"name": "No login needed"})

    assert response.status_code == 201


async def test_me_with_login_as(
    client: AsyncClient, db_session: AsyncSession, login_as: Callable[[User], Any]
) -> None:
    """fastapi-testbed's `login_as` skips tokens and hashing for tests about other things."""
    user = User(email="grace@example.com", password_hash="not used")
    db_session.add(user)
    await db_session.flush()
    login_as(user)

    response = await client.get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["email"] == "grace@example.com"
