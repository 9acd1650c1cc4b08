"""Reference data every deployment needs: the item categories.

    alembic upgrade head && python -m items_app.db.seed     # safe to run again

`seed_categories` adds the categories that are missing (by slug) and leaves the others as
they are; the caller commits. The tests get the same rows: `[tool.testbed] seed` calls it once
after the schema is built.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from items_app.models import Category

CATEGORIES = {  # slug -> name
    "books": "Books",
    "electronics": "Electronics",
    "garden": "Garden",
    "home": "Home & Kitchen",
    "toys": "Toys & Games",
}


async def seed_categories(session: AsyncSession) -> None:
    existing = set(await session.scalars(select(Category.slug)))
    session.add_all(
        Category(slug=slug, name=name) for slug, name in CATEGORIES.items() if slug not in existing
    )
    await session.flush()


async def main() -> None:
    from items_app.db.session import SessionLocal, engine

    try:
        async with SessionLocal() as session:
            await seed_categories(session)
            await session.commit()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
