"""Nothing a test writes survives it, even what the app commits.

Every test first asserts that the table is empty, so each pair ("exists within its test",
"absent from the next") proves the rollback whatever order the tests run in.
"""

from uuid import uuid4

import pytest
from httpx2 import AsyncClient
from profiles_app.models import Profile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.anyio


async def all_profiles(session: AsyncSession) -> list[Profile]:
    return list(await session.scalars(select(Profile)))


async def test_create_profile(db_session: AsyncSession) -> None:
    assert await all_profiles(db_session) == []

    db_session.add(Profile(name="test"))
    await db_session.commit()

    profiles = await all_profiles(db_session)
    assert [profile.name for profile in profiles] == ["test"]


async def test_rollbacks_between_functions(db_session: AsyncSession) -> None:
    assert await all_profiles(db_session) == []


async def test_api_create_profile(client: AsyncClient) -> None:
    assert (await client.get("/api/profiles")).json() == []

    response = await client.post("/api/profiles", json={"name": "test"})
    assert response.status_code == 201
    created = response.json()

    response = await client.get("/api/profiles")
    assert response.status_code == 200
    assert response.json() == [created]

    response = await client.get(f"/api/profiles/{created['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "name": "test"}


async def test_client_rollbacks(client: AsyncClient) -> None:
    response = await client.get("/api/profiles")
    assert response.status_code == 200
    assert response.json() == []


async def test_missing_profile_is_404(client: AsyncClient) -> None:
    response = await client.get(f"/api/profiles/{uuid4()}")
    assert response.status_code == 404
