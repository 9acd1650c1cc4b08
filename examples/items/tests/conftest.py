"""The seed's data fixtures; the database, the app and the clients come from fastapi-testbed."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from httpx2 import AsyncClient

ItemFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def sample_item_data() -> dict[str, Any]:
    return {"name": "Test Item", "description": "A test item description"}


@pytest.fixture
async def created_item(client: AsyncClient, sample_item_data: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/items", json=sample_item_data)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def item_factory() -> ItemFactory:
    """Request bodies for new items, each with a unique name: `item_factory(name="x")`."""
    counter = itertools.count(1)

    def make(**overrides: Any) -> dict[str, Any]:
        n = next(counter)
        return {"name": f"Item {n}", "description": f"Description {n}", **overrides}

    return make


@pytest.fixture
async def multiple_items(client: AsyncClient, item_factory: ItemFactory) -> list[dict[str, Any]]:
    """Five items created through the API, oldest first."""
    items = []
    for _ in range(5):
        response = await client.post("/api/v1/items", json=item_factory())
        assert response.status_code == 201, response.text
        items.append(response.json())
    return items


@pytest.fixture
def credentials() -> dict[str, str]:
    return {"email": "ada@example.com", "password": "correct horse battery"}


@pytest.fixture
async def registered_user(client: AsyncClient, credentials: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/register", json=credentials)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def auth_headers(
    client: AsyncClient, registered_user: dict[str, Any], credentials: dict[str, str]
) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
