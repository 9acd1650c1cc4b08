from __future__ import annotations

from collections.abc import Sequence

from items_app.models import Category
from items_app.repositories.base import BaseRepository


class CategoryRepository(BaseRepository[Category]):
    model = Category

    async def get_by_slug(self, slug: str) -> Category | None:
        return await self.get_by(slug=slug)

    async def all(self) -> Sequence[Category]:
        return await self.list(order_by=[Category.name])
