"""The generic repository, exercised directly on the test's `db_session`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from items_app.db.base import utcnow
from items_app.models import Item
from items_app.repositories import InvalidFilterError, ItemRepository
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


@pytest.fixture
def repo(db_session: AsyncSession) -> ItemRepository:
    return ItemRepository(db_session)


@pytest.fixture
async def items(repo: ItemRepository) -> list[Item]:
    """Five items with created_at one minute apart, in order."""
    start = utcnow() - timedelta(hours=1)
    return await repo.bulk_create(
        {"name": name, "description": f"about {name}", "created_at": start + timedelta(minutes=i)}
        for i, name in enumerate(["Apple", "apricot", "Banana", "Cherry", "Pineapple"])
    )


def names(rows: object) -> list[str]:
    return [row.name for row in rows]  # type: ignore[attr-defined]


async def test_create_and_get(repo: ItemRepository) -> None:
    item = await repo.create({"name": "Lamp", "description": "bright"})

    assert isinstance(item.id, uuid.UUID)
    assert item.created_at.tzinfo is not None
    assert item.deleted_at is None
    assert await repo.get(item.id) is item


async def test_timestamps_round_trip_as_utc(repo: ItemRepository, db_session: AsyncSession) -> None:
    item = await repo.create({"name": "Clock"})
    created_at = item.created_at
    db_session.expunge_all()

    reloaded = await repo.get(item.id)

    assert reloaded is not None
    assert reloaded.created_at == created_at
    assert reloaded.created_at.utcoffset() == timedelta(0)


async def test_get_missing(repo: ItemRepository) -> None:
    assert await repo.get(uuid.uuid4()) is None


async def test_equality_filter(repo: ItemRepository, items: list[Item]) -> None:
    assert names(await repo.list({"name": "Banana"})) == ["Banana"]


async def test_ilike_filter(repo: ItemRepository, items: list[Item]) -> None:
    assert names(await repo.list({"name__ilike": "AP"})) == ["Apple", "apricot", "Pineapple"]


async def test_in_filter(repo: ItemRepository, items: list[Item]) -> None:
    found = await repo.list({"name__in": ["Cherry", "Apple", "Durian"]})

    assert names(found) == ["Apple", "Cherry"]


async def test_gt_and_lt_filters(repo: ItemRepository, items: list[Item]) -> None:
    found = await repo.list(
        {"created_at__gt": items[0].created_at, "created_at__lt": items[3].created_at}
    )

    assert names(found) == ["apricot", "Banana"]


async def test_filters_combine(repo: ItemRepository, items: list[Item]) -> None:
    found = await repo.list({"name__ilike": "apple", "created_at__gt": items[0].created_at})

    assert names(found) == ["Pineapple"]


async def test_unknown_filter_field(repo: ItemRepository) -> None:
    with pytest.raises(InvalidFilterError, match="Unknown field 'colour'") as excinfo:
        await repo.list({"colour__in": ["red"]})

    assert excinfo.value.error_code == "VALIDATION_ERROR"


async def test_unknown_filter_operator(repo: ItemRepository) -> None:
    with pytest.raises(InvalidFilterError, match="Unknown operator 'startswith'"):
        await repo.list({"name__startswith": "A"})


async def test_paginate(repo: ItemRepository, items: list[Item]) -> None:
    page = await repo.paginate(page=2, size=2)

    assert names(page.items) == ["Banana", "Cherry"]
    assert (page.total, page.page, page.size, page.pages) == (5, 2, 2, 3)


async def test_paginate_with_filter(repo: ItemRepository, items: list[Item]) -> None:
    page = await repo.paginate(page=1, size=2, filters={"name__ilike": "ap"})

    assert names(page.items) == ["Apple", "apricot"]
    assert (page.total, page.pages) == (3, 2)


async def test_count_and_exists(repo: ItemRepository, items: list[Item]) -> None:
    assert await repo.count() == 5
    assert await repo.count({"name__ilike": "an"}) == 1
    assert await repo.exists({"name": "Cherry"})
    assert not await repo.exists({"name": "Durian"})


async def test_partial_update(repo: ItemRepository, items: list[Item]) -> None:
    apple = items[0]
    before = apple.updated_at

    await repo.update(apple, {"description": "crisp"})

    assert (apple.name, apple.description) == ("Apple", "crisp")
    assert apple.updated_at > before


async def test_update_rejects_unknown_fields(repo: ItemRepository, items: list[Item]) -> None:
    with pytest.raises(InvalidFilterError):
        await repo.update(items[0], {"colour": "red"})


async def test_soft_deleted_rows_are_invisible(repo: ItemRepository, items: list[Item]) -> None:
    await repo.soft_delete(items[0])

    assert await repo.get(items[0].id) is None
    assert "Apple" not in names(await repo.list())
    assert await repo.count() == 4
    assert await repo.get(items[0].id, include_deleted=True) is items[0]
    assert await repo.count(include_deleted=True) == 5


async def test_restore(repo: ItemRepository, items: list[Item]) -> None:
    await repo.soft_delete(items[0])

    await repo.restore(items[0])

    assert items[0].deleted_at is None
    assert await repo.get(items[0].id) is items[0]


async def test_hard_delete(repo: ItemRepository, items: list[Item]) -> None:
    await repo.delete(items[0])

    assert await repo.get(items[0].id, include_deleted=True) is None


async def test_bulk_create(repo: ItemRepository) -> None:
    created = await repo.bulk_create([{"name": f"Bulk {i}"} for i in range(3)])

    assert len({item.id for item in created}) == 3
    assert await repo.count({"name__ilike": "bulk"}) == 3


async def test_bulk_update(
    repo: ItemRepository, items: list[Item], db_session: AsyncSession
) -> None:
    apple, apricot, banana = (item.id for item in items[:3])
    await repo.soft_delete(items[2])

    updated = await repo.bulk_update(
        [
            {"id": apple, "description": "red"},
            {"id": apricot, "name": "Apricot", "description": "orange"},
            {"id": banana, "description": "deleted rows stay as they are"},
            {"id": uuid.uuid4(), "description": "no such row"},
        ]
    )

    assert updated == 2
    db_session.expire_all()
    rows = await repo.list({"id__in": [apple, apricot]})
    assert [(row.name, row.description) for row in rows] == [
        ("Apple", "red"),
        ("Apricot", "orange"),
    ]
    deleted = await repo.get(banana, include_deleted=True)
    assert deleted is not None
    assert deleted.description == "about Banana"


async def test_bulk_delete(repo: ItemRepository, items: list[Item]) -> None:
    await repo.soft_delete(items[0])

    deleted = await repo.bulk_delete([items[0].id, items[1].id, items[2].id])

    assert deleted == 2
    assert names(await repo.list()) == ["Cherry", "Pineapple"]
    assert await repo.count(include_deleted=True) == 5


async def test_live_names_are_unique_in_the_database(
    repo: ItemRepository, db_session: AsyncSession
) -> None:
    await repo.create({"name": "Twin"})

    with pytest.raises(IntegrityError):
        async with db_session.begin_nested():
            await repo.create({"name": "Twin"})


async def test_deleted_names_may_repeat(repo: ItemRepository) -> None:
    first = await repo.create({"name": "Phoenix"})
    await repo.soft_delete(first)
    second = await repo.create({"name": "Phoenix"})
    await repo.soft_delete(second)

    third = await repo.create({"name": "Phoenix"})

    assert await repo.count({"name": "Phoenix"}, include_deleted=True) == 3
    assert await repo.get_by(name="Phoenix") is third
