"""Settings, read from the environment (and an optional `.env` file).

The database URL is not a setting of its own: it is built from the `POSTGRES_*` parts, the way
the deployment hands them over. With no `POSTGRES_SERVER` the service runs on a SQLite file,
which is what a developer gets on a fresh checkout.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

# examples/heroes/heroes.db: next to the package, not inside it.
DEFAULT_SQLITE_PATH = Path(__file__).resolve().parent.parent / "heroes.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str = "Heroes"
    API_VERSION: str = "1.0.0"

    POSTGRES_SERVER: str | None = None
    POSTGRES_PORT: int = 5432
    POSTGRES_USER: str = "postgres"
    POSTGRES_PASSWORD: str = ""
    POSTGRES_DB: str = "heroes"
    SQLITE_PATH: Path = DEFAULT_SQLITE_PATH

    SQL_ECHO: bool = False
    # Production schemas come from `alembic upgrade head`; this is for a quick local try-out.
    CREATE_TABLES_ON_STARTUP: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_url(self) -> str:
        if not self.POSTGRES_SERVER:
            return f"sqlite:///{self.SQLITE_PATH}"
        url = URL.create(
            "postgresql+psycopg",
            username=self.POSTGRES_USER,
            password=self.POSTGRES_PASSWORD or None,
            host=self.POSTGRES_SERVER,
            port=self.POSTGRES_PORT,
            database=self.POSTGRES_DB,
        )
        return url.render_as_string(hide_password=False)

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings = get_settings()
