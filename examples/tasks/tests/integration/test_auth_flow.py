"""Complete authentication journeys, mail read from the plugin's `mail_outbox`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from httpx2 import AsyncClient

if TYPE_CHECKING:
    from tests.conftest import StandardUsers

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


async def login(client: AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_login_and_use_a_protected_route(client: AsyncClient, mail_outbox) -> None:
    registered = await client.post(
        "/auth/register",
        json={"email": "newuser@example.com", "password": "SecurePass123", "name": "New User"},
    )
    assert registered.status_code == 201
    assert mail_outbox[0].to == ["newuser@example.com"]

    tokens = await login(client, "newuser@example.com", "SecurePass123")
    assert set(tokens) == {"access_token", "refresh_token", "token_type"}
    assert tokens["token_type"] == "bearer"

    me = await client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "newuser@example.com"


async def test_refresh(client: AsyncClient, standard_users: StandardUsers) -> None:
    user = standard_users.user
    tokens = await login(client, user.email, user.password)

    refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new_tokens = refreshed.json()
    assert new_tokens["access_token"] != tokens["access_token"]

    me = await client.get("/users/me", headers=bearer(new_tokens["access_token"]))
    assert me.status_code == 200


async def test_refresh_with_an_access_token_is_refused(
    client: AsyncClient, standard_users: StandardUsers
) -> None:
    user = standard_users.user
    tokens = await login(client, user.email, user.password)

    response = await client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})

    assert response.status_code == 401


async def test_refresh_token_is_not_an_access_token(
    client: AsyncClient, standard_users: StandardUsers
) -> None:
    user = standard_users.user
    tokens = await login(client, user.email, user.password)
    response = await client.get("/users/me", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401


async def test_password_reset(
    client: AsyncClient, standard_users: StandardUsers, mail_outbox
) -> None:
    user = standard_users.user
    requested = await client.post("/auth/password-reset", json={"email": user.email})
    assert requested.status_code == 200

    assert len(mail_outbox) == 1
    mail = mail_outbox[0]
    assert mail.to == [user.email]
    match = re.search(r"token=([A-Za-z0-9_-]+)", mail.text)
    assert match, mail.text
    assert any("/reset-password?token=" in link for link in mail.links)

    confirmed = await client.post(
        "/auth/password-reset/confirm",
        json={"token": match.group(1), "new_password": "NewSecurePass123"},
    )
    assert confirmed.status_code == 200

    await login(client, user.email, "NewSecurePass123")
    old = await client.post("/auth/login", json={"email": user.email, "password": user.password})
    assert old.status_code == 401


async def test_password_reset_for_an_unknown_address_looks_the_same(
    client: AsyncClient, standard_users: StandardUsers, mail_outbox
) -> None:
    user = standard_users.user
    known = await client.post("/auth/password-reset", json={"email": user.email})
    unknown = await client.post("/auth/password-reset", json={"email": "nobody@example.com"})

    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert [m.to for m in mail_outbox] == [[user.email]]


async def test_password_reset_with_a_bad_token(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/password-reset/confirm", json={"token": "nope", "new_password": "NewSecurePass1"}
    )
    assert response.status_code == 422
    assert "Invalid or expired" in response.json()["detail"]


async def test_account_lockout(client: AsyncClient, standard_users: StandardUsers) -> None:
    user = standard_users.user
    for _ in range(5):
        response = await client.post(
            "/auth/login", json={"email": user.email, "password": "wrongpassword"}
        )
        assert response.status_code == 401

    response = await client.post(
        "/auth/login", json={"email": user.email, "password": user.password}
    )

    assert response.status_code == 401
    assert "locked" in response.json()["detail"].lower()
