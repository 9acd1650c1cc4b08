"""The engine and the session factory, built from `DATABASE_URL` at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.config import settings

engine = create_async_engine(settings.database_url, pool_pre_ping=True)

# expire_on_commit=False: response models are built from objects after the commit.
SessionLocal = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one session per request."""
    async with SessionLocal() as session:
        yield session


async def create_tables() -> None:
    """Create the schema (development helper: `python -m tasks_app.db`)."""
    from tasks_app import models  # noqa: F401  (registers the tables)

    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)


if __name__ == "__main__":
    import asyncio

    asyncio.run(create_tables())
