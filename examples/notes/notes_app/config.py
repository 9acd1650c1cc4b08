"""Settings read from the environment once, at import time."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment variables, matched case-insensitively (``SECRET_KEY`` -> ``secret_key``)."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./notes.db"
    # HS256 wants a key of at least 32 bytes (RFC 7518, section 3.2).
    secret_key: SecretStr = Field(min_length=32)
    jwt_algorithm: str = "HS256"
    access_token_expire_minutes: int = Field(default=15, gt=0)
    refresh_token_expire_minutes: int = Field(default=7 * 24 * 60, gt=0)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)


settings = Settings()  # type: ignore[call-arg]  # fields come from the environment
