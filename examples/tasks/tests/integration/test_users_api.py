"""The /users endpoints through HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from httpx2 import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.models import User

from tests.factories import UserFactory

if TYPE_CHECKING:
    from tests.conftest import StandardUsers

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


async def test_create_user(client: AsyncClient) -> None:
    response = await client.post(
        "/users",
        json={"name": "New User", "email": "newuser@example.com", "password": "SecurePass123"},
    )

    assert response.status_code == 201
    data = response.json()
    assert data["email"] == "newuser@example.com"
    assert {"password", "password_hash"}.isdisjoint(data)


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"name": "W", "email": "w@example.com", "password": "123"}, 422, "at least 8"),
        ({"name": "W", "email": "test@example.com", "password": "Password123"}, 409, "already"),
    ],
)
async def test_create_user_refused(
    client: AsyncClient, payload: dict[str, str], status: int, detail: str
) -> None:
    response = await client.post("/users", json=payload)

    assert response.status_code == status
    assert detail in response.json()["detail"]


async def test_create_user_with_an_invalid_address(client: AsyncClient) -> None:
    response = await client.post(
        "/users", json={"name": "X", "email": "not-an-address", "password": "SecurePass123"}
    )
    assert response.status_code == 422


async def test_get_user(client: AsyncClient, standard_users: StandardUsers) -> None:
    user = standard_users.user

    response = await client.get(f"/users/{user.id}")

    assert response.status_code == 200
    assert response.json()["id"] == user.id
    assert response.json()["email"] == user.email


async def test_get_missing_user(client: AsyncClient) -> None:
    response = await client.get("/users/99999")
    assert response.status_code == 404
    assert response.json() == {"detail": "User 99999 not found"}


async def test_list_users_has_a_total_count_header(
    client: AsyncClient, db_session: AsyncSession
) -> None:
    UserFactory.create_batch(23)  # and the module's two standard users: 25
    await db_session.commit()

    response = await client.get("/users", params={"skip": 0, "limit": 10})

    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) == 25
    assert len(response.json()) == 10


async def test_list_users_search(client: AsyncClient, db_session: AsyncSession) -> None:
    UserFactory(name="Grace Hopper")
    UserFactory(name="Alan Turing")
    await db_session.commit()

    response = await client.get("/users", params={"search": "HOPPER"})

    assert response.headers["X-Total-Count"] == "1"
    assert [u["name"] for u in response.json()] == ["Grace Hopper"]


async def test_list_users_limit_is_bounded(client: AsyncClient) -> None:
    assert (await client.get("/users", params={"limit": 1000})).status_code == 422


async def test_update_user_requires_auth(
    client: AsyncClient, standard_users: StandardUsers
) -> None:
    response = await client.patch(f"/users/{standard_users.user.id}", json={"name": "Updated Name"})

    assert response.status_code in (401, 403)
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_update_user_with_auth(
    client: AsyncClient, standard_users: StandardUsers, auth_headers: dict[str, str]
) -> None:
    response = await client.patch(
        f"/users/{standard_users.user.id}", json={"name": "Updated Name"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Updated Name"


async def test_other_tests_changes_to_the_standard_user_are_rolled_back(
    client: AsyncClient, standard_users: StandardUsers
) -> None:
    """Written once per module, the user is as written in every test: updates are rolled back."""
    response = await client.get(f"/users/{standard_users.user.id}")

    assert response.json()["name"] == "Test User"


async def test_update_another_user_is_forbidden(
    client: AsyncClient, db_session: AsyncSession, auth_headers: dict[str, str]
) -> None:
    other = UserFactory()
    await db_session.commit()

    response = await client.patch(f"/users/{other.id}", json={"name": "X"}, headers=auth_headers)

    assert response.status_code == 403


async def test_admin_updates_another_user(
    client: AsyncClient, standard_users: StandardUsers, admin_headers: dict[str, str]
) -> None:
    response = await client.patch(
        f"/users/{standard_users.user.id}", json={"name": "By Admin"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["name"] == "By Admin"


async def test_me(client: AsyncClient, auth_headers: dict[str, str]) -> None:
    response = await client.get("/users/me", headers=auth_headers)
    assert response.status_code == 200
    assert response.json()["email"] == "test@example.com"


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz"])
async def test_me_with_a_bad_credential(client: AsyncClient, header: str) -> None:
    response = await client.get("/users/me", headers={"Authorization": header})
    assert response.status_code in (401, 403)


async def test_me_for_a_deactivated_user(
    client: AsyncClient, db_session: AsyncSession, test_user: User, auth_headers: dict[str, str]
) -> None:
    test_user.is_active = False
    await db_session.commit()

    response = await client.get("/users/me", headers=auth_headers)

    assert response.status_code == 401
