"""Settings read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# Sync or driverless URLs are mapped to the async driver of the same database.
_ASYNC_DRIVERS = {
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
    "sqlite": "aiosqlite",
}


def to_async_url(url: str) -> str:
    """Return `url` with the async driver this app uses for its database.

    >>> to_async_url("postgresql://u@h/db")
    'postgresql+asyncpg://u@h/db'
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None or parsed.get_driver_name() == driver:
        return url
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    app_name: str = "items"
    debug: bool = False
    api_prefix: str = "/api/v1"

    database_url: str = "sqlite+aiosqlite:///./items.db"
    # Server on which the tests create their databases (see .env.example); unused by the app.
    test_database_url: str | None = None
    database_echo: bool = False

    session_ttl_minutes: int = Field(default=7 * 24 * 60, gt=0)
    # None keeps argon2-cffi's defaults (RFC 9106 low-memory profile).
    argon2_time_cost: int | None = None
    argon2_memory_cost: int | None = None
    argon2_parallelism: int | None = None

    @field_validator("database_url", "test_database_url")
    @classmethod
    def _use_async_driver(cls, value: str | None) -> str | None:
        return None if value is None else to_async_url(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings = get_settings()
