"""Create the tables for a local run: ``python -m notes_app.create_tables``.

The example has no migrations; its tests get the schema from ``[tool.testbed] metadata``.
"""

from __future__ import annotations

import asyncio

from notes_app.db import engine
from notes_app.models import Base


async def create_tables() -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(create_tables())
