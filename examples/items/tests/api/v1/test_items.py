"""The seed's router tests for /api/v1/items, plus the cases the seed implies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import pytest
from httpx2 import AsyncClient
from items_app.models import Item

from fastapi_testbed import assert_database_count, assert_database_has, assert_database_missing

ItemFactory = Callable[..., dict[str, Any]]
MISSING_ID = "00000000-0000-0000-0000-000000000000"


class TestCreateItem:
    async def test_create_item_success(
        self, client: AsyncClient, sample_item_data: dict[str, Any]
    ) -> None:
        response = await client.post("/api/v1/items", json=sample_item_data)

        assert response.status_code == 201
        data = response.json()
        assert data["name"] == sample_item_data["name"]
        assert data["description"] == sample_item_data["description"]
        assert uuid.UUID(data["id"])
        assert data["created_at"] and data["updated_at"]
        assert data["category"] is None
        assert set(data) == {"id", "name", "description", "category", "created_at", "updated_at"}
        assert_database_has(Item, id=uuid.UUID(data["id"]), name="Test Item", deleted_at=None)

    async def test_create_item_duplicate_name(
        self, client: AsyncClient, created_item: dict[str, Any], sample_item_data: dict[str, Any]
    ) -> None:
        response = await client.post("/api/v1/items", json=sample_item_data)

        assert response.status_code == 409
        assert response.json() == {
            "error_code": "CONFLICT",
            "message": "An item named 'Test Item' already exists",
            "details": {"name": "Test Item"},
        }
        assert_database_count(Item, 1, name="Test Item")

    async def test_create_item_missing_name(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/items", json={"description": "test"})

        assert response.status_code == 422
        data = response.json()
        assert data["error_code"] == "VALIDATION_ERROR"
        assert [error["loc"] for error in data["details"]] == [["body", "name"]]

    async def test_create_item_empty_name(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/items", json={"name": ""})

        assert response.status_code == 422
        assert response.json()["error_code"] == "VALIDATION_ERROR"

    async def test_create_item_blank_name(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/items", json={"name": "   "})

        assert response.status_code == 422

    async def test_create_item_name_too_long(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/items", json={"name": "x" * 256})

        assert response.status_code == 422

    async def test_name_of_deleted_item_is_free_again(
        self, client: AsyncClient, created_item: dict[str, Any], sample_item_data: dict[str, Any]
    ) -> None:
        await client.delete(f"/api/v1/items/{created_item['id']}")

        response = await client.post("/api/v1/items", json=sample_item_data)

        assert response.status_code == 201
        assert response.json()["id"] != created_item["id"]


class TestGetItem:
    async def test_get_item_success(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.get(f"/api/v1/items/{created_item['id']}")

        assert response.status_code == 200
        assert response.json() == created_item

    async def test_get_item_not_found(self, client: AsyncClient) -> None:
        response = await client.get(f"/api/v1/items/{MISSING_ID}")

        assert response.status_code == 404
        assert response.json()["error_code"] == "NOT_FOUND"

    async def test_get_item_invalid_uuid(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/items/not-a-uuid")

        assert response.status_code == 422
        data = response.json()
        assert data["error_code"] == "VALIDATION_ERROR"
        assert data["details"][0]["loc"] == ["path", "item_id"]


class TestListItems:
    async def test_list_items_empty(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/items")

        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "page": 1, "size": 20, "pages": 0}

    async def test_list_items_with_data(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.get("/api/v1/items")

        assert response.status_code == 200
        data = response.json()
        assert data["items"] == [created_item]
        assert data["total"] == 1

    async def test_list_items_pagination(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.get("/api/v1/items", params={"page": 1, "size": 10})

        assert response.status_code == 200
        data = response.json()
        assert (data["page"], data["size"], data["pages"]) == (1, 10, 1)

    async def test_pages_of_multiple_items(
        self, client: AsyncClient, multiple_items: list[dict[str, Any]]
    ) -> None:
        first = (await client.get("/api/v1/items", params={"page": 1, "size": 2})).json()
        last = (await client.get("/api/v1/items", params={"page": 3, "size": 2})).json()

        assert (first["total"], first["pages"]) == (5, 3)
        assert first["items"] == multiple_items[:2]
        assert last["items"] == multiple_items[4:]

    async def test_page_past_the_end_is_empty(
        self, client: AsyncClient, multiple_items: list[dict[str, Any]]
    ) -> None:
        data = (await client.get("/api/v1/items", params={"page": 9, "size": 2})).json()

        assert data["items"] == []
        assert data["total"] == 5

    async def test_invalid_paging(self, client: AsyncClient) -> None:
        for params in ({"page": 0}, {"size": 0}, {"size": 101}, {"page": "x"}):
            response = await client.get("/api/v1/items", params=params)
            assert response.status_code == 422, params
            assert response.json()["error_code"] == "VALIDATION_ERROR"

    async def test_list_items_filter_by_name(
        self, client: AsyncClient, created_item: dict[str, Any], item_factory: ItemFactory
    ) -> None:
        await client.post("/api/v1/items", json=item_factory(name="Test Item 2"))

        response = await client.get("/api/v1/items", params={"name": created_item["name"]})

        assert response.status_code == 200
        assert response.json()["items"] == [created_item]

    async def test_list_items_filter_ilike(
        self, client: AsyncClient, created_item: dict[str, Any], item_factory: ItemFactory
    ) -> None:
        await client.post("/api/v1/items", json=item_factory(name="Lamp"))
        await client.post("/api/v1/items", json=item_factory(name="LATEST news"))

        response = await client.get("/api/v1/items", params={"name__ilike": "test"})

        assert response.status_code == 200
        names = [item["name"] for item in response.json()["items"]]
        assert names == ["Test Item", "LATEST news"]
        assert all("test" in name.lower() for name in names)

    async def test_ilike_wildcards_match_literally(
        self, client: AsyncClient, item_factory: ItemFactory
    ) -> None:
        await client.post("/api/v1/items", json=item_factory(name="100% cotton"))
        await client.post("/api/v1/items", json=item_factory(name="1000 cotton"))

        response = await client.get("/api/v1/items", params={"name__ilike": "0%"})

        assert [item["name"] for item in response.json()["items"]] == ["100% cotton"]

    async def test_deleted_items_are_not_listed(
        self, client: AsyncClient, multiple_items: list[dict[str, Any]]
    ) -> None:
        await client.delete(f"/api/v1/items/{multiple_items[0]['id']}")

        data = (await client.get("/api/v1/items")).json()

        assert data["total"] == 4
        assert data["items"] == multiple_items[1:]


class TestUpdateItem:
    async def test_update_item_success(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.patch(
            f"/api/v1/items/{created_item['id']}", json={"name": "Updated Name"}
        )

        assert response.status_code == 200
        data = response.json()
        assert data["name"] == "Updated Name"
        assert data["description"] == created_item["description"]
        assert data["created_at"] == created_item["created_at"]
        updated_at = datetime.fromisoformat(data["updated_at"])
        assert updated_at > datetime.fromisoformat(created_item["updated_at"])

    async def test_update_item_partial(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.patch(
            f"/api/v1/items/{created_item['id']}", json={"description": "New description"}
        )

        assert response.status_code == 200
        data = response.json()
        assert data["name"] == created_item["name"]
        assert data["description"] == "New description"

    async def test_update_clears_description_with_null(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.patch(
            f"/api/v1/items/{created_item['id']}", json={"description": None}
        )

        assert response.json()["description"] is None

    async def test_update_name_to_null_is_rejected(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.patch(f"/api/v1/items/{created_item['id']}", json={"name": None})

        assert response.status_code == 422
        assert response.json()["error_code"] == "VALIDATION_ERROR"

    async def test_update_to_taken_name_conflicts(
        self, client: AsyncClient, multiple_items: list[dict[str, Any]]
    ) -> None:
        first, second = multiple_items[:2]

        response = await client.patch(f"/api/v1/items/{second['id']}", json={"name": first["name"]})

        assert response.status_code == 409
        assert response.json()["error_code"] == "CONFLICT"

    async def test_update_keeping_own_name(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.patch(
            f"/api/v1/items/{created_item['id']}", json={"name": created_item["name"]}
        )

        assert response.status_code == 200

    async def test_update_item_not_found(self, client: AsyncClient) -> None:
        response = await client.patch(f"/api/v1/items/{MISSING_ID}", json={"name": "test"})

        assert response.status_code == 404
        assert response.json()["error_code"] == "NOT_FOUND"


class TestDeleteItem:
    async def test_delete_item_success(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        item_id = created_item["id"]

        response = await client.delete(f"/api/v1/items/{item_id}")

        assert response.status_code == 204
        assert response.content == b""
        assert (await client.get(f"/api/v1/items/{item_id}")).status_code == 404

    async def test_delete_is_soft(self, client: AsyncClient, created_item: dict[str, Any]) -> None:
        item_id = uuid.UUID(created_item["id"])

        await client.delete(f"/api/v1/items/{item_id}")

        assert_database_has(Item, id=item_id, name=created_item["name"])  # the row stays...
        assert_database_missing(Item, id=item_id, deleted_at=None)  # ...marked deleted

    async def test_delete_item_not_found(self, client: AsyncClient) -> None:
        response = await client.delete(f"/api/v1/items/{MISSING_ID}")

        assert response.status_code == 404
        assert response.json()["error_code"] == "NOT_FOUND"

    async def test_delete_twice(self, client: AsyncClient, created_item: dict[str, Any]) -> None:
        await client.delete(f"/api/v1/items/{created_item['id']}")

        response = await client.delete(f"/api/v1/items/{created_item['id']}")

        assert response.status_code == 404


class TestRestoreItem:
    async def test_restore_item_success(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        item_id = created_item["id"]
        await client.delete(f"/api/v1/items/{item_id}")

        response = await client.post(f"/api/v1/items/{item_id}/restore")

        assert response.status_code == 200
        assert response.json()["id"] == item_id
        get_response = await client.get(f"/api/v1/items/{item_id}")
        assert get_response.status_code == 200
        assert get_response.json()["name"] == created_item["name"]

    async def test_restore_live_item_changes_nothing(
        self, client: AsyncClient, created_item: dict[str, Any]
    ) -> None:
        response = await client.post(f"/api/v1/items/{created_item['id']}/restore")

        assert response.status_code == 200
        assert response.json() == created_item

    async def test_restore_when_name_was_taken_meanwhile(
        self, client: AsyncClient, created_item: dict[str, Any], sample_item_data: dict[str, Any]
    ) -> None:
        await client.delete(f"/api/v1/items/{created_item['id']}")
        await client.post("/api/v1/items", json=sample_item_data)

        response = await client.post(f"/api/v1/items/{created_item['id']}/restore")

        assert response.status_code == 409
        assert response.json()["error_code"] == "CONFLICT"

    async def test_restore_not_found(self, client: AsyncClient) -> None:
        response = await client.post(f"/api/v1/items/{MISSING_ID}/restore")

        assert response.status_code == 404


async def test_with_factory(client: AsyncClient, item_factory: ItemFactory) -> None:
    item1 = await client.post("/api/v1/items", json=item_factory())
    item2 = await client.post("/api/v1/items", json=item_factory())

    assert item1.json()["name"] != item2.json()["name"]


async def test_multiple_items(multiple_items: list[dict[str, Any]]) -> None:
    assert len({item["id"] for item in multiple_items}) == 5


async def test_names_are_case_sensitive(client: AsyncClient) -> None:
    """Same on every database: MariaDB's default collation would call these equal."""
    lower = await client.post("/api/v1/items", json={"name": "lamp"})
    upper = await client.post("/api/v1/items", json={"name": "Lamp"})

    assert (lower.status_code, upper.status_code) == (201, 201)
    listed = (await client.get("/api/v1/items", params={"name": "Lamp"})).json()["items"]
    assert [item["name"] for item in listed] == ["Lamp"]


@pytest.mark.testbed(isolation="truncate")
async def test_concurrent_creates_of_one_name(client: AsyncClient) -> None:
    """The pre-check cannot see a concurrent insert; the unique index turns it into a 409.

    On SQLite the plugin begins these transactions IMMEDIATE, so the writers queue.
    """
    responses = await asyncio.gather(
        *(client.post("/api/v1/items", json={"name": "Race"}) for _ in range(5))
    )

    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409, 409]
    assert (await client.get("/api/v1/items")).json()["total"] == 1
    assert_database_count(Item, 1)


async def test_list_runs_two_queries(
    client: AsyncClient,
    multiple_items: list[dict[str, Any]],
    assert_num_queries: Callable[[int], AbstractContextManager[Any]],
) -> None:
    with assert_num_queries(2):  # count + page, however many items
        response = await client.get("/api/v1/items")

    assert response.json()["total"] == 5
