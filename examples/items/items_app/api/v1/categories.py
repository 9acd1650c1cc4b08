"""`/categories`: the categories an item may be filed under (reference data, read-only)."""

from __future__ import annotations

from fastapi import APIRouter

from items_app.api.deps import CategoryServiceDep
from items_app.schemas.category import CategoryRead

router = APIRouter(prefix="/categories", tags=["categories"])


@router.get("")
async def list_categories(service: CategoryServiceDep) -> list[CategoryRead]:
    return [CategoryRead.model_validate(category) for category in await service.list()]
