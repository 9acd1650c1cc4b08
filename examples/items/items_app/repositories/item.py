from __future__ import annotations

import uuid

from items_app.models import Item
from items_app.repositories.base import BaseRepository


class ItemRepository(BaseRepository[Item]):
    model = Item

    async def name_taken(self, name: str, *, exclude_id: uuid.UUID | None = None) -> bool:
        """Whether a live item other than `exclude_id` already has this name."""
        item = await self.get_by(name=name)
        return item is not None and item.id != exclude_id
