"""Item categories: reference data the seed (`[tool.testbed] seed`) writes once for the run.

Every test finds the five categories without asking for them, truncate tests included: after
a truncate test empties the tables, the plugin puts the seed's rows back, ids and all.
"""

from __future__ import annotations

import pytest
from httpx2 import AsyncClient
from items_app.db.seed import CATEGORIES
from items_app.models import Category, Item
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fastapi_testbed import assert_database_count, assert_database_has, assert_database_missing


async def test_the_seed_categories_are_listed_by_name(client: AsyncClient) -> None:
    response = await client.get("/api/v1/categories")

    assert response.status_code == 200
    assert response.json() == [
        {"slug": slug, "name": name}
        for slug, name in sorted(CATEGORIES.items(), key=lambda pair: pair[1])
    ]


async def test_create_an_item_in_a_category(client: AsyncClient, db_session: AsyncSession) -> None:
    response = await client.post("/api/v1/items", json={"name": "Dune", "category": "books"})

    assert response.status_code == 201
    assert response.json()["category"] == {"slug": "books", "name": "Books"}
    books = await db_session.scalar(select(Category.id).filter_by(slug="books"))
    assert_database_has(Item, name="Dune", category_id=books)


async def test_an_unknown_category_is_refused(client: AsyncClient) -> None:
    response = await client.post("/api/v1/items", json={"name": "Dune", "category": "novels"})

    assert response.status_code == 422
    assert response.json() == {
        "error_code": "VALIDATION_ERROR",
        "message": "Unknown category 'novels'",
        "details": {
            "category": "novels",
            "known": ["books", "electronics", "garden", "home", "toys"],
        },
    }
    assert_database_missing(Item, name="Dune")


async def test_move_an_item_to_another_category_and_out(client: AsyncClient) -> None:
    item = (await client.post("/api/v1/items", json={"name": "Lamp", "category": "home"})).json()

    moved = await client.patch(f"/api/v1/items/{item['id']}", json={"category": "garden"})
    cleared = await client.patch(f"/api/v1/items/{item['id']}", json={"category": None})

    assert moved.json()["category"] == {"slug": "garden", "name": "Garden"}
    assert cleared.json()["category"] is None
    assert_database_has(Item, name="Lamp", category_id=None)


async def test_list_the_items_of_a_category(client: AsyncClient) -> None:
    for name, category in [("Dune", "books"), ("Lamp", "home"), ("Emma", "books"), ("Note", None)]:
        await client.post("/api/v1/items", json={"name": name, "category": category})

    books = (await client.get("/api/v1/items", params={"category": "books"})).json()
    unknown = await client.get("/api/v1/items", params={"category": "novels"})

    assert [item["name"] for item in books["items"]] == ["Dune", "Emma"]
    assert unknown.status_code == 422


async def test_the_seed_is_idempotent(db_session: AsyncSession) -> None:
    """`python -m items_app.db.seed` may run on every deploy: it adds only what is missing."""
    from items_app.db.seed import seed_categories

    await db_session.delete(await db_session.scalar(select(Category).filter_by(slug="toys")))
    await db_session.flush()

    await seed_categories(db_session)

    assert_database_count(Category, len(CATEGORIES))
    assert_database_count(Category, 1, slug="toys")


@pytest.mark.testbed(isolation="truncate")
@pytest.mark.parametrize("run", [1, 2])
async def test_truncate_tests_find_the_seed_again(
    run: int, client: AsyncClient, db_session: AsyncSession
) -> None:
    """Commits here are real and the tables are emptied after each run; whichever run comes
    second finds the seed's categories back, and nothing the first one wrote."""
    assert_database_count(Category, len(CATEGORIES))
    assert_database_count(Item, 0)
    assert_database_missing(Category, slug="seasonal")

    created = await client.post("/api/v1/items", json={"name": f"Rake {run}", "category": "garden"})
    db_session.add(Category(slug="seasonal", name="Seasonal"))  # an id after the seed's
    await db_session.commit()

    assert created.status_code == 201
    assert_database_count(Category, len(CATEGORIES) + 1)
    assert_database_has(Item, name=f"Rake {run}")
