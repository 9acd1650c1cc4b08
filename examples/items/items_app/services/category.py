from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from items_app.models import Category
from items_app.repositories import CategoryRepository


class CategoryService:
    """Categories are reference data (`items_app.db.seed`): the API only reads them."""

    def __init__(self, session: AsyncSession) -> None:
        self.categories = CategoryRepository(session)

    async def list(self) -> Sequence[Category]:
        return await self.categories.all()
