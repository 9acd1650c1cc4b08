"""Small FastAPI projects of the shapes people have, each with the conftest.py they wrote.

Every project has its own package name, so its test databases (``test_<name>``) are its own.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

Files = dict[str, str]


def write(folder: Path, files: Files) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


# --- async SQLAlchemy, DeclarativeBase, URL from one variable with a default ------------------
ASYNC: Files = {
    "pyproject.toml": """
        # cliapp-async: an async items service.
        [project]
        name = "cliapp-async"
        version = "0.1.0"

        [tool.pytest.ini_options]
        asyncio_mode = "auto"
        asyncio_default_fixture_loop_scope = "function"  # keep this comment
    """,
    "cliapp_async/__init__.py": "",
    "cliapp_async/db.py": """
        import os

        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./cliapp_async.db")
        engine = create_async_engine(DATABASE_URL)
        SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        async def get_db():
            async with SessionLocal() as session:
                yield session
    """,
    "cliapp_async/models.py": """
        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Item(Base):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50), unique=True)
    """,
    "cliapp_async/main.py": """
        from fastapi import Depends, FastAPI
        from sqlalchemy import select

        from cliapp_async.db import get_db
        from cliapp_async.models import Item

        app = FastAPI()


        @app.post("/items", status_code=201)
        async def create(payload: dict, db=Depends(get_db)):
            item = Item(name=payload["name"])
            db.add(item)
            await db.commit()
            return {"id": item.id, "name": item.name}


        @app.get("/items")
        async def names(db=Depends(get_db)):
            return [item.name for item in await db.scalars(select(Item).order_by(Item.id))]
    """,
    # the conftest of a 2023 tutorial: each pattern is broken or unnecessary today
    "tests/conftest.py": """
        import asyncio

        import pytest
        from httpx import AsyncClient
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        from cliapp_async.db import get_db
        from cliapp_async.main import app
        from cliapp_async.models import Base

        TEST_DATABASE_URL = "sqlite+aiosqlite:///./test.db"
        engine = create_async_engine(TEST_DATABASE_URL)
        TestingSessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        @pytest.fixture(scope="session")
        def event_loop():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()


        @pytest.fixture(autouse=True)
        async def setup_database():
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            yield
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)


        @pytest.fixture
        async def db():
            async with TestingSessionLocal() as session:
                yield session


        async def override_get_db():
            async with TestingSessionLocal() as session:
                yield session


        app.dependency_overrides[get_db] = override_get_db


        @pytest.fixture
        async def async_client():
            async with AsyncClient(app=app, base_url="http://test") as ac:
                yield ac
            app.dependency_overrides.clear()
    """,
    "tests/test_items.py": """
        from sqlalchemy import select

        from cliapp_async.models import Item


        async def test_create_and_list(async_client, db):
            response = await async_client.post("/items", json={"name": "a"})
            assert response.status_code == 201
            assert (await async_client.get("/items")).json() == ["a"]
            assert (await db.scalars(select(Item.name))).all() == ["a"]


        async def test_rolled_back(async_client):
            assert (await async_client.get("/items")).json() == []


        async def test_session_of_its_own(db):
            db.add(Item(name="b"))
            await db.commit()
            assert (await db.scalars(select(Item.name))).all() == ["b"]
    """,
}

# --- sync SQLAlchemy, declarative_base(), Alembic, an app factory, a required DATABASE_URL ----
SYNC: Files = {
    "pyproject.toml": """
        # cliapp-sync: notes, sync SQLAlchemy and Alembic.
        [project]
        name = "cliapp-sync"
        version = "0.1.0"
    """,
    "alembic.ini": """
        [alembic]
        script_location = %(here)s/migrations
        prepend_sys_path = %(here)s
    """,
    "migrations/env.py": """
        import os

        from alembic import context
        from sqlalchemy import create_engine

        from cliapp_sync import models  # noqa: F401
        from cliapp_sync.database import Base

        engine = create_engine(os.environ["DATABASE_URL"])
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata)
            with context.begin_transaction():
                context.run_migrations()
    """,
    "migrations/versions/0001_notes.py": """
        import sqlalchemy as sa
        from alembic import op

        revision = "0001"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table(
                "notes",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("text", sa.String(200), nullable=False),
            )


        def downgrade():
            op.drop_table("notes")
    """,
    "cliapp_sync/__init__.py": "",
    "cliapp_sync/config.py": """
        import os

        DATABASE_URL = os.environ["DATABASE_URL"]
    """,
    "cliapp_sync/database.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import declarative_base, sessionmaker

        from cliapp_sync.config import DATABASE_URL

        engine = create_engine(DATABASE_URL)
        SessionLocal = sessionmaker(bind=engine, autoflush=False)
        Base = declarative_base()


        def get_db():
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()
    """,
    "cliapp_sync/models.py": """
        from sqlalchemy import Column, Integer, String

        from cliapp_sync.database import Base


        class Note(Base):
            __tablename__ = "notes"
            id = Column(Integer, primary_key=True)
            text = Column(String(200), nullable=False)
    """,
    "cliapp_sync/main.py": """
        from fastapi import Depends, FastAPI
        from sqlalchemy.orm import Session

        from cliapp_sync import models
        from cliapp_sync.database import get_db


        def create_app() -> FastAPI:
            app = FastAPI(title="notes")

            @app.post("/notes", status_code=201)
            def add(payload: dict, db: Session = Depends(get_db)):
                note = models.Note(text=payload["text"])
                db.add(note)
                db.commit()
                db.refresh(note)
                return {"id": note.id, "text": note.text}

            @app.get("/notes")
            def notes(db: Session = Depends(get_db)):
                return [note.text for note in db.query(models.Note).order_by(models.Note.id)]

            return app
    """,
    "tests/conftest.py": """
        import os

        os.environ["DATABASE_URL"] = "sqlite:///./test.db"

        import pytest
        from fastapi.testclient import TestClient
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        from cliapp_sync.database import Base, get_db
        from cliapp_sync.main import create_app

        engine = create_engine("sqlite:///./test.db", connect_args={"check_same_thread": False})
        TestingSessionLocal = sessionmaker(bind=engine)
        app = create_app()


        @pytest.fixture(scope="session", autouse=True)
        def create_tables():
            Base.metadata.create_all(bind=engine)
            yield
            Base.metadata.drop_all(bind=engine)


        @pytest.fixture
        def session():
            db = TestingSessionLocal()
            try:
                yield db
            finally:
                db.close()


        @pytest.fixture
        def client(session):
            def override_get_db():
                yield session

            app.dependency_overrides[get_db] = override_get_db
            with TestClient(app) as test_client:
                yield test_client
            app.dependency_overrides.clear()
    """,
    "tests/test_notes.py": """
        from cliapp_sync.models import Note


        def test_add(client, session):
            assert client.post("/notes", json={"text": "hi"}).status_code == 201
            assert [note.text for note in session.query(Note)] == ["hi"]


        def test_rolled_back(client):
            assert client.get("/notes").json() == []
    """,
}

# --- SQLModel, pydantic-settings, the URL built from POSTGRES_* parts with no defaults, no tests
SQLMODEL: Files = {
    "pyproject.toml": """
        [project]
        name = "cliapp-sqlmodel"
        version = "0.1.0"
        requires-python = ">=3.11"

        [tool.ruff]
        line-length = 100  # keep me
    """,
    "cliapp_sqlmodel/__init__.py": "",
    "cliapp_sqlmodel/settings.py": """
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_file=".env", extra="ignore")

            POSTGRES_HOST: str
            POSTGRES_PORT: int = 5432
            POSTGRES_USER: str
            POSTGRES_PASSWORD: str
            POSTGRES_DB: str
            SECRET_KEY: str

            @property
            def database_url(self) -> str:
                return (
                    f"postgresql+psycopg://{self.POSTGRES_USER}:{self.POSTGRES_PASSWORD}"
                    f"@{self.POSTGRES_HOST}:{self.POSTGRES_PORT}/{self.POSTGRES_DB}"
                )


        settings = Settings()
    """,
    "cliapp_sqlmodel/models.py": """
        from sqlmodel import Field, SQLModel


        class Hero(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str
    """,
    "cliapp_sqlmodel/app.py": """
        from fastapi import Depends, FastAPI
        from sqlmodel import Session, create_engine, select

        from cliapp_sqlmodel.models import Hero
        from cliapp_sqlmodel.settings import settings

        engine = create_engine(settings.database_url)


        def get_session():
            with Session(engine) as session:
                yield session


        api = FastAPI(title="heroes")


        @api.post("/heroes")
        def create(hero: Hero, session: Session = Depends(get_session)) -> Hero:
            session.add(hero)
            session.commit()
            session.refresh(hero)
            return hero


        @api.get("/heroes")
        def heroes(session: Session = Depends(get_session)) -> list[Hero]:
            return list(session.exec(select(Hero)))
    """,
}

# --- two apps (one mounted) and two declarative bases: init must ask ------------------------
TWO_OF_EACH: Files = {
    "pyproject.toml": """
        [project]
        name = "cliapp-two"
        version = "0.1.0"
    """,
    "cliapp_two/__init__.py": "",
    "cliapp_two/models.py": """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Order(Base):
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
    """,
    "cliapp_two/analytics.py": """
        from sqlalchemy.orm import declarative_base, Mapped, mapped_column

        AnalyticsBase = declarative_base()


        class Event(AnalyticsBase):
            __tablename__ = "events"
            id: Mapped[int] = mapped_column(primary_key=True)
    """,
    "cliapp_two/admin.py": """
        from fastapi import FastAPI

        admin = FastAPI()
    """,
    "cliapp_two/main.py": """
        from fastapi import FastAPI

        from cliapp_two import analytics, models  # noqa: F401
        from cliapp_two.admin import admin

        app = FastAPI()
        app.mount("/admin", admin)
    """,
}

# --- asyncio_mode = "auto" beside anyio, async tests: reported, never fixed ------------------
AUTO_WITH_ANYIO: Files = {
    "pyproject.toml": """
        [project]
        name = "cliapp-anyio"
        version = "0.1.0"

        [tool.pytest.ini_options]
        asyncio_default_fixture_loop_scope = "function"
        asyncio_mode = "auto"

        [tool.testbed]
        app = "cliapp_anyio.main:app"
    """,
    "cliapp_anyio/__init__.py": "",
    "cliapp_anyio/main.py": """
        from fastapi import FastAPI

        app = FastAPI()
    """,
    "tests/test_anyio.py": """
        import pytest

        pytestmark = pytest.mark.anyio


        async def test_docs(client):
            assert (await client.get("/docs")).status_code == 200
    """,
}
