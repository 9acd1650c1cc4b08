from uuid import UUID

from pydantic import BaseModel, ConfigDict


class ProfileCreate(BaseModel):
    name: str


class ProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
