"""The engine and session factory, built at import time from `DATABASE_URL`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from items_app.core.config import settings

engine = create_async_engine(settings.database_url, echo=settings.database_echo, pool_pre_ping=True)

SessionLocal = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def get_db() -> AsyncIterator[AsyncSession]:
    """One session per request; services commit their own unit of work."""
    async with SessionLocal() as session:
        yield session
