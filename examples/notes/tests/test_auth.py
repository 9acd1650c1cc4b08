"""Registration, login and refresh when the request is wrong."""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import jwt
import pytest
from starlette.testclient import TestClient

from conftest import PASSWORD, AuthenticatedUser
from notes_app.dao import UserDAO
from notes_app.security import TokenType, create_token

pytestmark = pytest.mark.asyncio

NEW_USER = {"username": "newuser", "password": "s3cret-passw0rd", "full_name": "New User"}


async def test_register_stores_only_a_bcrypt_hash(
    sync_client: TestClient, user_dao: UserDAO
) -> None:
    response = sync_client.post("/register/", json=NEW_USER)

    assert response.status_code == 200
    assert NEW_USER["password"] not in response.text
    user = await user_dao.get_user_by_username("newuser")
    assert user is not None
    assert user.hashed_password != NEW_USER["password"]
    assert bcrypt.checkpw(NEW_USER["password"].encode(), user.hashed_password.encode())


async def test_register_taken_username(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, user_dao: UserDAO
) -> None:
    taken = {**NEW_USER, "username": authenticated_user.user.username}

    response = sync_client.post("/register/", json=taken)

    assert response.status_code == 400
    assert response.json() == {"detail": "Username already registered"}
    user = await user_dao.get_user_by_username(authenticated_user.user.username)
    assert user is not None
    assert user.full_name == authenticated_user.user.full_name


@pytest.mark.parametrize("missing", ["username", "password", "full_name"])
async def test_register_missing_field(
    sync_client: TestClient, user_dao: UserDAO, missing: str
) -> None:
    payload = {key: value for key, value in NEW_USER.items() if key != missing}

    response = sync_client.post("/register/", json=payload)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", missing]]
    assert await user_dao.get_user_by_username("newuser") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "x"),
        ("username", "has spaces"),
        ("password", "short"),
        ("password", "é" * 37),  # 74 bytes: more than bcrypt can check
        ("full_name", ""),
    ],
)
async def test_register_invalid_field(
    sync_client: TestClient, user_dao: UserDAO, field: str, value: str
) -> None:
    payload = {**NEW_USER, field: value}

    response = sync_client.post("/register/", json=payload)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert await user_dao.get_user_by_username(payload["username"]) is None


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "testuser", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
    ],
    ids=["wrong-password", "unknown-user"],
)
async def test_login_bad_credentials(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, credentials: dict[str, str]
) -> None:
    response = sync_client.post("/token/", data=credentials)

    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_login_needs_form_fields(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    as_json = sync_client.post("/token/", json={"username": "testuser", "password": PASSWORD})
    no_password = sync_client.post("/token/", data={"username": "testuser"})

    assert as_json.status_code == 422
    assert no_password.status_code == 422


async def test_refresh_rejects_an_access_token(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    response = sync_client.post(
        "/refresh/", json={"refresh_token": authenticated_user.access_token}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid refresh token"}


async def test_refresh_rejects_an_expired_token(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    subject = str(authenticated_user.user.id)
    expired = create_token(subject, TokenType.REFRESH, lifetime=timedelta(seconds=-1))

    response = sync_client.post("/refresh/", json={"refresh_token": expired})

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [("a-different-secret-key-of-32-bytes!", "HS256"), ("", "none")],
    ids=["wrong-key", "unsigned"],
)
async def test_refresh_rejects_a_forged_token(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, key: str, algorithm: str
) -> None:
    claims = {"sub": str(authenticated_user.user.id), "type": "refresh", "exp": 4102444800}
    forged = jwt.encode(claims, key, algorithm=algorithm)

    response = sync_client.post("/refresh/", json={"refresh_token": forged})

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("payload", "status_code"),
    [({}, 422), ({"refresh_token": ""}, 422), ({"refresh_token": "not.a.jwt"}, 401)],
)
async def test_refresh_malformed_request(
    sync_client: TestClient, payload: dict[str, str], status_code: int
) -> None:
    response = sync_client.post("/refresh/", json=payload)

    assert response.status_code == status_code
