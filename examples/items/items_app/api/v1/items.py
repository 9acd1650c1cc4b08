"""`/items`: public CRUD with soft delete and restore."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from items_app.api.deps import ItemServiceDep
from items_app.schemas.common import Page, PageParams, error_responses
from items_app.schemas.item import ItemCreate, ItemRead, ItemUpdate

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(409, 422))
async def create_item(data: ItemCreate, service: ItemServiceDep) -> ItemRead:
    return ItemRead.model_validate(await service.create(data))


@router.get("")
async def list_items(
    service: ItemServiceDep,
    paging: Annotated[PageParams, Depends()],
    name: Annotated[str | None, Query(description="Exact name")] = None,
    name__ilike: Annotated[
        str | None, Query(description="Case-insensitive part of the name")
    ] = None,
    category: Annotated[str | None, Query(description="A category's slug")] = None,
) -> Page[ItemRead]:
    result = await service.list(
        page=paging.page, size=paging.size, name=name, name_ilike=name__ilike, category=category
    )
    return Page[ItemRead].model_validate(result, from_attributes=True)


@router.get("/{item_id}", responses=error_responses(404))
async def get_item(item_id: uuid.UUID, service: ItemServiceDep) -> ItemRead:
    return ItemRead.model_validate(await service.get(item_id))


@router.patch("/{item_id}", responses=error_responses(404, 409))
async def update_item(item_id: uuid.UUID, data: ItemUpdate, service: ItemServiceDep) -> ItemRead:
    return ItemRead.model_validate(await service.update(item_id, data))


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def delete_item(item_id: uuid.UUID, service: ItemServiceDep) -> None:
    await service.delete(item_id)


@router.post("/{item_id}/restore", responses=error_responses(404, 409))
async def restore_item(item_id: uuid.UUID, service: ItemServiceDep) -> ItemRead:
    return ItemRead.model_validate(await service.restore(item_id))
