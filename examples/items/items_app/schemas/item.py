from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from items_app.models.item import NAME_MAX_LENGTH
from items_app.schemas.category import CategoryRead

ItemName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)
]
Description = Annotated[str, Field(max_length=10_000)]
CategorySlug = Annotated[str, Field(min_length=1, max_length=50, description="e.g. `books`")]


class ItemCreate(BaseModel):
    name: ItemName
    description: Description | None = None
    category: CategorySlug | None = None


class ItemUpdate(BaseModel):
    """Partial update: only the fields sent change; `name` cannot be cleared."""

    name: ItemName | None = None
    description: Description | None = None
    category: CategorySlug | None = None  # null files the item under no category

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("name cannot be null")
        return value


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    category: CategoryRead | None
    created_at: datetime
    updated_at: datetime
