from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from items_app.core.errors import ConflictError, NotFoundError, ValidationError
from items_app.models import Category, Item
from items_app.repositories import CategoryRepository, ItemRepository, PageResult
from items_app.schemas.item import ItemCreate, ItemUpdate


class ItemService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.items = ItemRepository(session)
        self.categories = CategoryRepository(session)

    async def create(self, data: ItemCreate) -> Item:
        await self._ensure_name_free(data.name)
        values = data.model_dump()
        values["category"] = await self._category(values.pop("category"))
        item = await self._write(self.items.create(values), data.name)
        await self.session.commit()
        return item

    async def get(self, item_id: uuid.UUID) -> Item:
        item = await self.items.get(item_id)
        if item is None:
            raise NotFoundError(f"Item {item_id} not found", details={"id": str(item_id)})
        return item

    async def list(
        self,
        *,
        page: int,
        size: int,
        name: str | None = None,
        name_ilike: str | None = None,
        category: str | None = None,
    ) -> PageResult[Item]:
        filters: dict[str, Any] = {}
        if name is not None:
            filters["name"] = name
        if name_ilike is not None:
            filters["name__ilike"] = name_ilike
        if category is not None:
            filters["category_id"] = (await self._known_category(category)).id
        return await self.items.paginate(page=page, size=size, filters=filters)

    async def update(self, item_id: uuid.UUID, data: ItemUpdate) -> Item:
        item = await self.get(item_id)
        changes = data.model_dump(exclude_unset=True)
        if "name" in changes:
            await self._ensure_name_free(changes["name"], exclude_id=item.id)
        if "category" in changes:
            item.category = await self._category(changes.pop("category"))
        await self._write(self.items.update(item, changes), changes.get("name", item.name))
        await self.session.commit()
        return item

    async def delete(self, item_id: uuid.UUID) -> None:
        item = await self.get(item_id)
        await self.items.soft_delete(item)
        await self.session.commit()

    async def restore(self, item_id: uuid.UUID) -> Item:
        """Bring a soft-deleted item back; restoring a live item changes nothing."""
        item = await self.items.get(item_id, include_deleted=True)
        if item is None:
            raise NotFoundError(f"Item {item_id} not found", details={"id": str(item_id)})
        if item.is_deleted:
            await self._ensure_name_free(item.name)
            await self._write(self.items.restore(item), item.name)
            await self.session.commit()
        return item

    async def _category(self, slug: str | None) -> Category | None:
        return None if slug is None else await self._known_category(slug)

    async def _known_category(self, slug: str) -> Category:
        """The category of this slug; an unknown slug is a 422 that lists the known ones."""
        category = await self.categories.get_by_slug(slug)
        if category is None:
            known = [c.slug for c in await self.categories.all()]
            raise ValidationError(
                f"Unknown category {slug!r}", details={"category": slug, "known": known}
            )
        return category

    async def _ensure_name_free(self, name: str, *, exclude_id: uuid.UUID | None = None) -> None:
        if await self.items.name_taken(name, exclude_id=exclude_id):
            raise _name_conflict(name)

    async def _write(self, flush: Awaitable[Item], name: str) -> Item:
        # The check above misses a concurrent writer; the unique index does not.
        try:
            item = await flush
        except IntegrityError as exc:
            await self.session.rollback()
            raise _name_conflict(name) from exc
        return item


def _name_conflict(name: str) -> ConflictError:
    return ConflictError(f"An item named {name!r} already exists", details={"name": name})
