"""The app under test: a small async FastAPI + SQLAlchemy service, the same for every pattern.

Its engine and sessionmaker are built from ``DATABASE_URL`` at import time, as real apps do; the
default names the database ``bench_app``, so the plugin's test database is ``test_bench_app``.
Four tables (the API uses one), so that building the schema and emptying it cost what they
cost in a small real service. The schema comes either from the metadata (``create_all``) or from
one Alembic migration that makes the same tables.
"""

from __future__ import annotations

APP_FILES = {
    "bench_app/__init__.py": '"""A small async FastAPI + SQLAlchemy app to benchmark against."""\n',
    "bench_app/db.py": '''
        """Engine and sessionmaker built from DATABASE_URL at import time, as real apps do."""

        import os
        from collections.abc import AsyncIterator

        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

        DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./bench_app.db")
        engine = create_async_engine(DATABASE_URL)
        SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        async def get_db() -> AsyncIterator[AsyncSession]:
            async with SessionLocal() as session:
                yield session
        ''',
    "bench_app/models.py": """
        from sqlalchemy import Column, ForeignKey, String, Table
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"

            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str] = mapped_column(String(200), unique=True)


        class Item(Base):
            __tablename__ = "items"

            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(100))
            owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)


        class Tag(Base):
            __tablename__ = "tags"

            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50), unique=True)


        item_tags = Table(
            "item_tags",
            Base.metadata,
            Column("item_id", ForeignKey("items.id"), primary_key=True),
            Column("tag_id", ForeignKey("tags.id"), primary_key=True),
        )
        """,
    "bench_app/main.py": """
        from typing import Annotated

        from fastapi import Depends, FastAPI, HTTPException
        from pydantic import BaseModel
        from sqlalchemy.ext.asyncio import AsyncSession

        from bench_app.db import get_db
        from bench_app.models import Item


        class ItemIn(BaseModel):
            name: str


        class ItemOut(BaseModel):
            id: int
            name: str


        Session = Annotated[AsyncSession, Depends(get_db)]
        app = FastAPI()


        @app.post("/items", status_code=201)
        async def create_item(body: ItemIn, session: Session) -> ItemOut:
            item = Item(name=body.name)
            session.add(item)
            await session.commit()
            return ItemOut(id=item.id, name=item.name)


        @app.get("/items/{item_id}")
        async def read_item(item_id: int, session: Session) -> ItemOut:
            item = await session.get(Item, item_id)
            if item is None:
                raise HTTPException(status_code=404)
            return ItemOut(id=item.id, name=item.name)
        """,
}

# Alembic, as `alembic init -t async` writes it, plus the cookbook's "sharing a connection":
# a caller (the hand-written conftest) may hand over its own connection.
ALEMBIC_FILES = {
    "alembic.ini": """
        [alembic]
        script_location = %(here)s/migrations
        prepend_sys_path = %(here)s
        path_separator = os
        """,
    "migrations/env.py": '''
        """Alembic environment: async engine on DATABASE_URL, or the caller's connection."""

        import asyncio

        from alembic import context
        from sqlalchemy.ext.asyncio import create_async_engine

        from bench_app.db import DATABASE_URL
        from bench_app.models import Base

        target_metadata = Base.metadata


        def do_run_migrations(connection):
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()


        async def run_async_migrations():
            engine = create_async_engine(DATABASE_URL)
            async with engine.connect() as connection:
                await connection.run_sync(do_run_migrations)
            await engine.dispose()


        connection = context.config.attributes.get("connection")
        if connection is not None:
            do_run_migrations(connection)
        else:
            asyncio.run(run_async_migrations())
        ''',
    "migrations/versions/0001_tables.py": '''
        """users, items, tags, item_tags"""

        import sqlalchemy as sa
        from alembic import op

        revision = "0001"
        down_revision = None


        def upgrade():
            op.create_table(
                "users",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("email", sa.String(200), nullable=False, unique=True),
            )
            op.create_table(
                "items",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("name", sa.String(100), nullable=False),
                sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
            )
            op.create_index("ix_items_owner_id", "items", ["owner_id"])
            op.create_table(
                "tags",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("name", sa.String(50), nullable=False, unique=True),
            )
            op.create_table(
                "item_tags",
                sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), primary_key=True),
                sa.Column("tag_id", sa.Integer(), sa.ForeignKey("tags.id"), primary_key=True),
            )


        def downgrade():
            op.drop_table("item_tags")
            op.drop_table("tags")
            op.drop_index("ix_items_owner_id", "items")
            op.drop_table("items")
            op.drop_table("users")
        ''',
}
