from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    """Read from the environment: DATABASE_URL."""

    database_url: str = "sqlite+aiosqlite:///./profiles.db"


settings = Settings()
