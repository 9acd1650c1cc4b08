"""Request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notes_app.security import MAX_PASSWORD_BYTES


class UserCreateDTO(BaseModel):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8)
    full_name: str = Field(min_length=1, max_length=100)

    @field_validator("password")
    @classmethod
    def password_fits_bcrypt(cls, password: str) -> str:
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes long")
        return password


class RefreshTokenDTO(BaseModel):
    refresh_token: str = Field(min_length=1)


class NoteCreateDTO(BaseModel):
    """A note's content; also the body of ``PUT /note/{note_id}``, which replaces both fields."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10_000)


class NoteDTO(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    note_id: int
    title: str
    body: str
    user_id: int


class MessageDTO(BaseModel):
    message: str


class AccessTokenDTO(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class TokenPairDTO(AccessTokenDTO):
    refresh_token: str
