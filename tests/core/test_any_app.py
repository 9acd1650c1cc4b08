"""Any app, as written: the plugin finds every engine, whatever the app does to make it.

Each test writes a small, realistic app (settings, routers, a hard-coded URL, a lazy engine
factory, Alembic, two databases) whose [tool.testbed] table names little more than the app, and
runs pytest on it against SQLite, PostgreSQL and MariaDB. The app's own databases are named
``anyapp*``, so their test databases (``test_anyapp*``) never meet other tests' ``test_tbapp``.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import ANYIO_ON_ASYNCIO, SERVERS, server_databases

# The app's own database URL, as a developer would write it for each backend.
APP_URLS = {
    "sqlite": {
        "sync": "sqlite:///./{name}.db",
        "async": "sqlite+aiosqlite:///./{name}.db",
    },
    "postgresql": {
        "sync": "postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "async": "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
    },
    "mariadb": {
        "sync": "mysql+pymysql://root@127.0.0.1:3306/{name}",
        "async": "mysql+aiomysql://root@127.0.0.1:3306/{name}",
    },
}

# The parts a deployment hands a settings-driven app (DB_NAME is set by each test).
SETTINGS_ENV = {
    "sqlite": {"DB_SCHEME": "sqlite"},
    "postgresql": {
        "DB_SCHEME": "postgresql+psycopg",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "5432",
        "DB_USER": "postgres",
    },
    "mariadb": {
        "DB_SCHEME": "mysql+pymysql",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "3306",
        "DB_USER": "root",
    },
}

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
{ini}

{table}
"""


@dataclass
class AnyApp:
    """A generated app in pytester's folder, run on one backend."""

    pytester: pytest.Pytester
    backend: str

    @property
    def server(self) -> str | None:
        return SERVERS[self.backend]

    @property
    def path(self) -> Path:
        return self.pytester.path

    def url(self, name: str, flavour: str = "sync") -> str:
        return APP_URLS[self.backend][flavour].format(name=name)

    def write(
        self,
        files: dict[str, str],
        *,
        table: str,
        tests: str,
        ini: str = "",
        **marks: str,
    ) -> None:
        """Write the app's files (``<mark>`` replaced), pyproject.toml, conftest and tests."""
        for relative, source in files.items():
            target = self.path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            text = textwrap.dedent(source).lstrip("\n")
            for key, value in marks.items():
                text = text.replace(f"<{key}>", value)
            target.write_text(text)
        self.pytester.makepyprojecttoml(PYPROJECT.format(ini=ini, table=textwrap.dedent(table)))
        self.pytester.makeconftest(ANYIO_ON_ASYNCIO)
        self.pytester.makepyfile(test_app=textwrap.dedent(tests))

    def run(self, *args: str, own_server: bool = False) -> pytest.RunResult:
        """Run pytest on the app; on a server backend --testbed-db-url names it, unless
        ``own_server`` (then each engine's test database goes on the engine's own server)."""
        options = ["-p", "no:randomly", "-p", "no:cacheprovider", *args]
        if self.server and not own_server:
            options += ["--testbed-db-url", self.server]
        return self.pytester.runpytest(*options)

    def databases(self) -> set[str]:
        assert self.server is not None
        return server_databases(self.server)

    def assert_untouched(self, *names: str) -> None:
        """The app's own databases were never created, and their test databases were dropped."""
        if self.server is None:
            for name in names:
                assert not (self.path / f"{name}.db").exists(), f"{name}.db was created"
            return
        left = self.databases() & {n for name in names for n in (name, f"test_{name}")}
        assert not left, f"left on the server: {sorted(left)}"


@pytest.fixture(params=list(SERVERS))
def app(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> AnyApp:
    """An app run on each database: SQLite, PostgreSQL, MariaDB."""
    return AnyApp(pytester, request.param)


@pytest.fixture
def settings_env(app: AnyApp, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The developer's environment for the settings-driven app (each test sets DB_NAME)."""
    for name in ("DB_SCHEME", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SETTINGS_ENV[app.backend].items():
        monkeypatch.setenv(name, value)
    return monkeypatch


# --- a sync SQLModel app, as in the FastAPI/SQLModel docs, with a hard-coded URL -------------

HEROES_DB = '''
"""The engine, created once at import, and the session dependency (as in SQLModel's docs)."""
from sqlmodel import Session, create_engine

DATABASE_URL = "<URL>"
connect_args = {"check_same_thread": False} if DATABASE_URL.startswith("sqlite") else {}
engine = create_engine(DATABASE_URL, echo=False, connect_args=connect_args)


def get_session():
    with Session(engine) as session:
        yield session
'''

HEROES_MODELS = """
from sqlmodel import Field, SQLModel


class HeroBase(SQLModel):
    name: str = Field(index=True, max_length=50)
    age: int | None = Field(default=None, index=True)


class Hero(HeroBase, table=True):
    id: int | None = Field(default=None, primary_key=True)


class HeroUpdate(SQLModel):
    name: str | None = None
    age: int | None = None


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    method: str = Field(max_length=10)
    path: str = Field(max_length=200)


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message: str = Field(max_length=200)
"""

HEROES_ROUTER = """
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException
from sqlmodel import Session, select

from anyapp.db import engine, get_session
from anyapp.models import Hero, HeroBase, HeroUpdate, Notification

router = APIRouter(prefix="/heroes", tags=["heroes"])
SessionDep = Annotated[Session, Depends(get_session)]


def notify(message: str) -> None:
    with Session(engine) as session:  # a background task opens a session of its own
        session.add(Notification(message=message))
        session.commit()


@router.post("/", response_model=Hero, status_code=201)
def create_hero(hero: HeroBase, session: SessionDep, background: BackgroundTasks):
    db_hero = Hero.model_validate(hero)
    session.add(db_hero)
    session.commit()
    session.refresh(db_hero)
    background.add_task(notify, f"created {db_hero.name}")
    return db_hero


@router.get("/", response_model=list[Hero])
def read_heroes(session: SessionDep):
    return session.exec(select(Hero).order_by(Hero.id)).all()


@router.patch("/{hero_id}", response_model=Hero)
def update_hero(hero_id: int, hero: HeroUpdate, session: SessionDep):
    db_hero = session.get(Hero, hero_id)
    if not db_hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    db_hero.sqlmodel_update(hero.model_dump(exclude_unset=True))
    session.add(db_hero)
    session.commit()
    session.refresh(db_hero)
    return db_hero


@router.delete("/{hero_id}")
def delete_hero(hero_id: int, session: SessionDep):
    hero = session.get(Hero, hero_id)
    if not hero:
        raise HTTPException(status_code=404, detail="Hero not found")
    session.delete(hero)
    session.commit()
    return {"ok": True}
"""

TAGS_ROUTER = """
from fastapi import APIRouter
from sqlalchemy import insert, select, update

from anyapp.db import engine
from anyapp.models import Tag

router = APIRouter(prefix="/tags", tags=["tags"])


@router.post("/connect", status_code=201)
def add_with_connect(payload: dict):
    with engine.connect() as connection:  # Core, "commit as you go"
        connection.execute(insert(Tag).values(name=payload["name"]))
        connection.commit()
    return {"name": payload["name"]}


@router.post("/begin", status_code=201)
def add_with_begin(payload: dict):
    with engine.begin() as connection:  # Core, "begin once"
        connection.execute(insert(Tag).values(name=payload["name"]))
        connection.execute(
            update(Tag).where(Tag.name == payload["name"]).values(name=payload["name"].upper())
        )
    return {"name": payload["name"].upper()}


@router.get("/")
def list_tags():
    with engine.connect() as connection:
        return list(connection.scalars(select(Tag.name).order_by(Tag.id)))
"""

HEROES_MAIN = """
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from anyapp.db import engine
from anyapp.models import AuditEntry
from anyapp.routers import heroes, tags

app = FastAPI(title="Heroes")


def record(method: str, path: str) -> None:
    with Session(engine) as session:  # the middleware writes with a session of its own
        session.add(AuditEntry(method=method, path=path))
        session.commit()


@app.middleware("http")
async def audit_writes(request: Request, call_next):
    if request.method != "GET":
        await run_in_threadpool(record, request.method, request.url.path)
    return await call_next(request)


app.include_router(heroes.router)
app.include_router(tags.router)
"""

HEROES_FILES = {
    "anyapp/__init__.py": "",
    "anyapp/db.py": HEROES_DB,
    "anyapp/models.py": HEROES_MODELS,
    "anyapp/routers/__init__.py": "",
    "anyapp/routers/heroes.py": HEROES_ROUTER,
    "anyapp/routers/tags.py": TAGS_ROUTER,
    "anyapp/main.py": HEROES_MAIN,
}

# Only the app and its metadata: no sessionmakers, no dependency, no env.
HEROES_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
metadata = "anyapp.models:SQLModel.metadata"
"""


def write_heroes(app: AnyApp, tests: str) -> None:
    app.write(HEROES_FILES, table=HEROES_TABLE, tests=tests, URL=app.url("anyapp_heroes"))


SQLMODEL_SESSION_TESTS = """
import os

from sqlmodel import Session, select

from anyapp.models import Hero


def test_1_app_and_test_write(sync_client, db_session):
    response = sync_client.post("/heroes/", json={"name": "Deadpond", "age": 30})
    assert response.status_code == 201, response.text
    assert [hero.name for hero in db_session.exec(select(Hero))] == ["Deadpond"]
    db_session.add(Hero(name="Rusty-Man", age=48))
    db_session.commit()
    assert [hero["name"] for hero in sync_client.get("/heroes/").json()] == [
        "Deadpond",
        "Rusty-Man",
    ]


def test_2_nothing_leaked(sync_client, db_session):
    assert sync_client.get("/heroes/").json() == []
    assert db_session.exec(select(Hero)).all() == []


def test_3_db_session_is_sqlmodels_on_the_test_database(db_session, testbed):
    assert isinstance(db_session, Session)
    from anyapp.db import engine

    assert os.path.basename(engine.url.database).removesuffix(".db") == "test_anyapp_heroes"
    assert db_session.get_bind() is engine
"""


def test_sqlmodel_session_engine_dependency_needs_only_app_and_metadata(app: AnyApp) -> None:
    write_heroes(app, SQLMODEL_SESSION_TESTS)
    app.run().assert_outcomes(passed=3)
    app.assert_untouched("anyapp_heroes")


STALE_SYNC_TESTS = """
from sqlmodel import select

from anyapp.models import Hero


def test_deleted_by_the_app_is_gone_from_db_session(sync_client, db_session):
    hero = Hero(name="Spider-Boy", age=15)
    db_session.add(hero)
    db_session.commit()
    assert db_session.get(Hero, hero.id) is hero
    assert sync_client.delete(f"/heroes/{hero.id}").json() == {"ok": True}
    assert db_session.get(Hero, hero.id) is None
    assert db_session.exec(select(Hero)).all() == []


def test_updated_by_the_app_is_fresh_in_db_session(sync_client, db_session):
    hero = Hero(name="Spider-Boy", age=15)
    db_session.add(hero)
    db_session.commit()
    response = sync_client.patch(f"/heroes/{hero.id}", json={"age": 16})
    assert response.json()["age"] == 16, response.text
    assert db_session.get(Hero, hero.id).age == 16
    assert hero.age == 16
"""


def test_sync_app_changes_reach_db_session_identity_map(app: AnyApp) -> None:
    write_heroes(app, STALE_SYNC_TESTS)
    app.run().assert_outcomes(passed=2)


WRITE_PATHS_TESTS = """
from sqlmodel import select

from anyapp.models import AuditEntry, Hero, Notification, Tag


def test_1_every_way_the_app_writes_is_seen(sync_client, db_session):
    assert sync_client.post("/tags/connect", json={"name": "a"}).status_code == 201
    assert sync_client.post("/tags/begin", json={"name": "b"}).status_code == 201
    assert sync_client.post("/heroes/", json={"name": "Tarantula"}).status_code == 201
    assert sync_client.get("/tags/").json() == ["a", "B"]
    assert db_session.exec(select(Tag.name).order_by(Tag.id)).all() == ["a", "B"]
    paths = db_session.exec(select(AuditEntry.path).order_by(AuditEntry.id)).all()
    assert paths == ["/tags/connect", "/tags/begin", "/heroes/"]
    assert db_session.exec(select(Notification.message)).all() == ["created Tarantula"]


def test_2_all_of_it_rolled_back(sync_client, db_session):
    for model in (Tag, AuditEntry, Notification, Hero):
        assert db_session.exec(select(model)).all() == [], model
    assert sync_client.get("/tags/").json() == []
"""


def test_core_connect_begin_middleware_and_background_task_are_isolated(app: AnyApp) -> None:
    write_heroes(app, WRITE_PATHS_TESTS)
    app.run().assert_outcomes(passed=2)
    app.assert_untouched("anyapp_heroes")


def test_report_header_names_the_engine_origin_and_test_url(app: AnyApp) -> None:
    write_heroes(app, SQLMODEL_SESSION_TESTS)
    line = 1 + HEROES_DB.lstrip("\n").splitlines().index(
        "engine = create_engine(DATABASE_URL, echo=False, connect_args=connect_args)"
    )
    result = app.run("--co")
    result.stdout.fnmatch_lines(
        [f"testbed: engine *anyapp_heroes* (sync, anyapp/db.py:{line}) -> *test_anyapp_heroes*"]
    )


# --- an async app whose dependency yields an async_sessionmaker --------------------------------

NOTES_DB = '''
"""The engine and a sessionmaker; routes open their own transactions with maker.begin()."""
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

DATABASE_URL = "<URL>"
engine = create_async_engine(DATABASE_URL, pool_pre_ping=True)
SessionMaker = async_sessionmaker(engine, expire_on_commit=False)


async def get_sessionmaker():
    yield SessionMaker
'''

NOTES_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    done: Mapped[bool] = mapped_column(default=False)
"""

NOTES_ROUTER = """
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from anyapp.db import get_sessionmaker
from anyapp.models import Note

router = APIRouter(prefix="/notes", tags=["notes"])
Maker = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


class NoteIn(BaseModel):
    title: str


class NotePatch(BaseModel):
    title: str | None = None
    done: bool | None = None


def out(note: Note) -> dict:
    return {"id": note.id, "title": note.title, "done": note.done}


@router.post("", status_code=201)
async def create_note(payload: NoteIn, maker: Maker):
    async with maker.begin() as session:
        note = Note(title=payload.title)
        session.add(note)
    return out(note)


@router.get("")
async def list_notes(maker: Maker):
    async with maker() as session:
        return [out(note) for note in await session.scalars(select(Note).order_by(Note.id))]


@router.patch("/{note_id}")
async def update_note(note_id: int, payload: NotePatch, maker: Maker):
    async with maker.begin() as session:
        note = await session.get(Note, note_id)
        if note is None:
            raise HTTPException(status_code=404, detail="Note not found")
        for key, value in payload.model_dump(exclude_unset=True).items():
            setattr(note, key, value)
    return out(note)


@router.delete("/{note_id}")
async def delete_note(note_id: int, maker: Maker):
    async with maker.begin() as session:
        note = await session.get(Note, note_id)
        if note is None:
            raise HTTPException(status_code=404, detail="Note not found")
        await session.delete(note)
    return {"ok": True}
"""

NOTES_MAIN = """
from fastapi import FastAPI

from anyapp.routers import notes

app = FastAPI(title="Notes")
app.include_router(notes.router)
"""

NOTES_FILES = {
    "anyapp/__init__.py": "",
    "anyapp/db.py": NOTES_DB,
    "anyapp/models.py": NOTES_MODELS,
    "anyapp/routers/__init__.py": "",
    "anyapp/routers/notes.py": NOTES_ROUTER,
    "anyapp/main.py": NOTES_MAIN,
}

NOTES_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
metadata = "anyapp.models:Base.metadata"
"""

RUNNERS = {
    # id: (what marks the tests, the ini lines, extra pytest options)
    "anyio": ("pytestmark = pytest.mark.anyio", "", ()),
    "asyncio-auto": ("", 'asyncio_mode = "auto"', ()),
    "asyncio-auto-no-anyio": ("", 'asyncio_mode = "auto"', ("-p", "no:anyio")),
}


def write_notes(app: AnyApp, tests: str, runner: str = "anyio") -> tuple[str, ...]:
    marker, ini, options = RUNNERS[runner]
    app.write(
        NOTES_FILES,
        table=NOTES_TABLE,
        tests=tests.replace("<MARKER>", marker),
        ini=ini,
        URL=app.url("anyapp_notes", "async"),
    )
    return options


NOTES_ISOLATION_TESTS = """
import os

import pytest
from sqlalchemy import func, select

from anyapp.models import Note

<MARKER>


async def test_1_app_and_test_write(client, db_session):
    response = await client.post("/notes", json={"title": "buy milk"})
    assert response.status_code == 201, response.text
    db_session.add(Note(title="from the test"))
    await db_session.commit()
    titles = [note["title"] for note in (await client.get("/notes")).json()]
    assert titles == ["buy milk", "from the test"]
    assert await db_session.scalar(select(func.count(Note.id))) == 2


async def test_2_nothing_leaked(client, db_session):
    assert (await client.get("/notes")).json() == []
    assert await db_session.scalar(select(func.count(Note.id))) == 0


async def test_3_db_session_is_the_apps_on_the_test_database(db_session):
    from anyapp.db import engine

    assert os.path.basename(engine.url.database).removesuffix(".db") == "test_anyapp_notes"
    assert db_session.bind is engine
"""


def test_async_sessionmaker_dependency_with_begin_blocks_is_isolated(app: AnyApp) -> None:
    write_notes(app, NOTES_ISOLATION_TESTS)
    app.run().assert_outcomes(passed=3)
    app.assert_untouched("anyapp_notes")


STALE_ASYNC_TESTS = """
import pytest
from sqlalchemy import select

from anyapp.models import Note

<MARKER>


async def test_deleted_by_the_app_is_gone_from_db_session(client, db_session):
    note = Note(title="doomed")
    db_session.add(note)
    await db_session.commit()
    assert await db_session.get(Note, note.id) is note
    assert (await client.delete(f"/notes/{note.id}")).json() == {"ok": True}
    assert await db_session.get(Note, note.id) is None
    assert (await db_session.scalars(select(Note))).all() == []


async def test_updated_by_the_app_is_fresh_in_db_session(client, db_session):
    note = Note(title="draft")
    db_session.add(note)
    await db_session.commit()
    response = await client.patch(f"/notes/{note.id}", json={"title": "final", "done": True})
    assert response.json()["title"] == "final", response.text
    fresh = await db_session.get(Note, note.id)
    assert (fresh.title, fresh.done) == ("final", True)
"""


def test_async_app_changes_reach_db_session_identity_map(app: AnyApp) -> None:
    write_notes(app, STALE_ASYNC_TESTS)
    app.run().assert_outcomes(passed=2)


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_async_scenario_under_anyio_and_pytest_asyncio(app: AnyApp, runner: str) -> None:
    options = write_notes(app, NOTES_ISOLATION_TESTS + STALE_ASYNC_TESTS, runner)
    result = app.run(*options)
    result.assert_outcomes(passed=5)
    assert "attached to a different loop" not in result.stdout.str()


# --- settings from parts behind lru_cache, an lru_cached engine factory, Alembic ---------------

SETTINGS_CONFIG = '''
"""Settings from the environment; the URL is built from its parts, as deployments hand them."""
import os
from functools import lru_cache

from pydantic_settings import BaseSettings
from sqlalchemy.engine import URL

ENV_AT_IMPORT = {name: os.environ.get(name) for name in ("DB_HOST", "DB_NAME")}


class Settings(BaseSettings):
    app_name: str = "Inventory"
    db_scheme: str = "sqlite"
    db_host: str = ""
    db_port: int | None = None
    db_user: str = ""
    db_password: str = ""
    db_name: str = "anyapp_settings"

    @property
    def database_url(self) -> str:
        if self.db_scheme.startswith("sqlite"):
            name = self.db_name if self.db_name.endswith(".db") else f"{self.db_name}.db"
            return f"{self.db_scheme}:///{name}"
        url = URL.create(
            self.db_scheme,
            username=self.db_user or None,
            password=self.db_password or None,
            host=self.db_host or None,
            port=self.db_port,
            database=self.db_name,
        )
        return url.render_as_string(hide_password=False)


@lru_cache
def get_settings() -> Settings:
    return Settings()
'''

SETTINGS_DB = '''
"""The engine is made on first use, once."""
from functools import lru_cache

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from anyapp.config import get_settings


@lru_cache
def get_engine():
    return create_engine(get_settings().database_url, pool_pre_ping=True)


def get_session():
    with Session(get_engine()) as session:
        yield session
'''

SETTINGS_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
"""

SETTINGS_ROUTER = """
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from anyapp.db import get_session
from anyapp.models import Item

router = APIRouter(prefix="/items", tags=["items"])
SessionDep = Annotated[Session, Depends(get_session)]


@router.post("", status_code=201)
def create_item(payload: dict, session: SessionDep):
    item = Item(name=payload["name"])
    session.add(item)
    session.commit()
    return {"id": item.id, "name": item.name}


@router.get("")
def list_items(session: SessionDep):
    return list(session.scalars(select(Item.name).order_by(Item.id)))
"""

SETTINGS_MAIN = """
from fastapi import FastAPI

from anyapp.config import get_settings
from anyapp.routers import items

app = FastAPI(title=get_settings().app_name)
app.include_router(items.router)
"""

ALEMBIC_INI = """
[alembic]
script_location = migrations
sqlalchemy.url = sqlite:///unused-the-app-settings-decide.db

[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARN
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic
[formatter_generic]
format = %(message)s
"""

ALEMBIC_ENV = '''
"""Alembic: the database is the one the app's settings describe, not sqlalchemy.url."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from anyapp.config import get_settings
from anyapp.models import Base

config = context.config
config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
target_metadata = Base.metadata


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


run_migrations_online()
'''

ALEMBIC_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )


def downgrade():
    op.drop_table("items")
"""

SETTINGS_FILES = {
    "anyapp/__init__.py": "",
    "anyapp/config.py": SETTINGS_CONFIG,
    "anyapp/db.py": SETTINGS_DB,
    "anyapp/models.py": SETTINGS_MODELS,
    "anyapp/routers/__init__.py": "",
    "anyapp/routers/items.py": SETTINGS_ROUTER,
    "anyapp/main.py": SETTINGS_MAIN,
}

ALEMBIC_FILES = {
    "alembic.ini": ALEMBIC_INI,
    "migrations/env.py": ALEMBIC_ENV,
    "migrations/versions/0001_items.py": ALEMBIC_REVISION,
}

# The engine exists only once the app's factory is called: `engine` names it (and calls it once).
SETTINGS_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
metadata = "anyapp.models:Base.metadata"
engine = "anyapp.db:get_engine()"
"""

ALEMBIC_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
alembic_ini = "alembic.ini"
engine = "anyapp.db:get_engine()"
"""

LAZY_ENGINE_TESTS = """
import os

from anyapp.config import get_settings
from anyapp.db import get_engine
from anyapp.models import Item


def test_1_lazy_engine_points_at_a_test_database(sync_client):
    assert sync_client.get("/items").json() == []
    database = get_engine().url.database
    assert os.path.basename(database).startswith("test_")
    assert os.path.basename(database).removesuffix(".db") == "test_anyapp_settings"
    assert get_settings().db_name == "anyapp_settings"  # the app's settings are its own


def test_2_app_writes(sync_client):
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201
    assert sync_client.get("/items").json() == ["a"]


def test_3_nothing_leaked(sync_client):
    assert sync_client.get("/items").json() == []


def test_4_db_session_is_on_the_apps_test_database(sync_client, db_session):
    db_session.add(Item(name="from the test"))
    db_session.commit()
    assert sync_client.get("/items").json() == ["from the test"]
    assert db_session.get_bind().url.database == get_engine().url.database
"""


def test_url_from_cached_settings_and_lazy_engine_factory(
    app: AnyApp, settings_env: pytest.MonkeyPatch
) -> None:
    app.write(SETTINGS_FILES, table=SETTINGS_TABLE, tests=LAZY_ENGINE_TESTS)
    settings_env.setenv("DB_NAME", "anyapp_settings")
    app.run().assert_outcomes(passed=4)
    app.assert_untouched("anyapp_settings")


ALEMBIC_TESTS = """
from sqlalchemy import inspect, text

from anyapp.db import get_engine


def test_1_migrated_test_database(sync_client):
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201
    with get_engine().connect() as connection:
        assert "items" in inspect(connection).get_table_names()
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0001"


def test_2_nothing_leaked(sync_client):
    assert sync_client.get("/items").json() == []
"""


def test_alembic_env_builds_its_url_from_the_app_settings(
    app: AnyApp, settings_env: pytest.MonkeyPatch
) -> None:
    app.write({**SETTINGS_FILES, **ALEMBIC_FILES}, table=ALEMBIC_TABLE, tests=ALEMBIC_TESTS)
    settings_env.setenv("DB_NAME", "anyapp_settings")
    app.run().assert_outcomes(passed=2)
    app.assert_untouched("anyapp_settings")  # the app's own database got no tables


PLACEHOLDER_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
metadata = "anyapp.models:Base.metadata"
env = { DB_HOST = "{test_host}", DB_NAME = "{test_database}" }
"""

PLACEHOLDER_TESTS = """
from anyapp.config import ENV_AT_IMPORT, get_settings
from anyapp.db import get_engine


def test_1_env_reached_the_app_at_import(testbed, sync_client):
    url = testbed.url
    assert url.database.endswith(("test_anyapp", "test_anyapp.db"))
    assert ENV_AT_IMPORT == {"DB_HOST": url.host or "", "DB_NAME": url.database}
    assert get_settings().db_name == url.database
    assert get_engine().url.database == url.database
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201


def test_2_nothing_leaked(sync_client, db_session):
    assert sync_client.get("/items").json() == []
"""


def test_env_placeholders_reach_the_app_at_import(
    app: AnyApp, settings_env: pytest.MonkeyPatch
) -> None:
    app.write(SETTINGS_FILES, table=PLACEHOLDER_TABLE, tests=PLACEHOLDER_TESTS)
    settings_env.setenv("DB_NAME", "anyapp_settings")  # replaced by the table's env
    app.run().assert_outcomes(passed=2)
    app.assert_untouched("anyapp_settings", "anyapp")


# --- the sentinel: the app's own database exists, is named test_*, and must stay as it is ------

SENTINEL = "test_anyapp_sentinel"

SENTINEL_TESTS = """
import os

from anyapp.db import get_engine


def test_1_app_works_on_a_copy(sync_client):
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201
    assert sync_client.get("/items").json() == ["a"]
    database = os.path.basename(get_engine().url.database).removesuffix(".db")
    assert database == "test_test_anyapp_sentinel"


def test_2_nothing_leaked(sync_client):
    assert sync_client.get("/items").json() == []
"""


def _sync_server_url(server: str, database: str | None) -> Any:
    url = make_url(server)
    driver = "postgresql+psycopg" if url.get_backend_name() == "postgresql" else "mysql+pymysql"
    return url.set(drivername=driver)._replace(database=database)


def _admin(server: str, *statements: str) -> None:
    maintenance = "postgres" if server.startswith("postgresql") else None
    engine = sqlalchemy.create_engine(
        _sync_server_url(server, maintenance), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _dump(server: str, database: str) -> dict[str, list[tuple[Any, ...]]] | None:
    """Every table of ``database`` and its rows; None when the database is gone."""
    if database not in server_databases(server):
        return None
    engine = sqlalchemy.create_engine(_sync_server_url(server, database), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            names = sorted(sqlalchemy.inspect(connection).get_table_names())
            return {
                name: [
                    tuple(row)
                    for row in connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1")
                ]
                for name in names
            }
    finally:
        engine.dispose()


@pytest.fixture
def sentinel(app: AnyApp) -> Iterator[Any]:
    """The app's own database, named test_anyapp_sentinel, with a table and a row in it.

    Yields a function that returns its content now (bytes of the SQLite file, or every table
    and row of the server database; None once it is gone). Dropped afterwards.
    """
    if app.server is None:
        path = app.path / f"{SENTINEL}.db"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE keepme (id INTEGER PRIMARY KEY, note VARCHAR(50))")
            connection.execute("INSERT INTO keepme VALUES (1, 'the app''s own data')")
        connection.close()
        yield lambda: path.read_bytes() if path.exists() else None
        return
    server = app.server
    quote = '"' if app.backend == "postgresql" else "`"
    for name in (SENTINEL, f"test_{SENTINEL}"):
        _admin(server, f"DROP DATABASE IF EXISTS {quote}{name}{quote}")
    _admin(server, f"CREATE DATABASE {quote}{SENTINEL}{quote}")
    engine = sqlalchemy.create_engine(_sync_server_url(server, SENTINEL), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE keepme (id INTEGER PRIMARY KEY, note VARCHAR(50))"
            )
            connection.exec_driver_sql("INSERT INTO keepme VALUES (1, 'the app''s own data')")
    finally:
        engine.dispose()
    try:
        yield lambda: _dump(server, SENTINEL)
    finally:
        for name in (SENTINEL, f"test_{SENTINEL}"):
            _admin(server, f"DROP DATABASE IF EXISTS {quote}{name}{quote}")


@pytest.mark.parametrize("schema", ["metadata", "alembic"])
def test_the_apps_own_test_named_database_is_left_byte_identical(
    app: AnyApp, settings_env: pytest.MonkeyPatch, sentinel: Any, schema: str
) -> None:
    before = sentinel()
    assert before is not None
    if schema == "alembic":
        app.write({**SETTINGS_FILES, **ALEMBIC_FILES}, table=ALEMBIC_TABLE, tests=SENTINEL_TESTS)
    else:
        app.write(SETTINGS_FILES, table=SETTINGS_TABLE, tests=SENTINEL_TESTS)
    settings_env.setenv("DB_NAME", SENTINEL)  # the developer's own database
    result = app.run()
    problems = []
    after = sentinel()
    if after != before:
        change = "" if isinstance(before, bytes) else f": {before!r} -> {after!r}"
        problems.append(f"the app's own database {SENTINEL} changed{change}")
    if app.server is not None and f"test_{SENTINEL}" in app.databases():
        problems.append(f"test_{SENTINEL} was left on the server")
    outcomes = result.parseoutcomes()
    if outcomes.get("passed") != 2 or outcomes.get("failed") or outcomes.get("errors"):
        problems.append(f"inner run: {outcomes}\n" + "\n".join(result.outlines[-40:]))
    assert not problems, "\n".join(problems)


# --- a hard-coded URL at import time and a lifespan that runs create_all -----------------------

HARDCODED_DB = '''
"""A hard-coded URL, an engine at import time, a sessionmaker and its dependency."""
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("<URL>")
SessionLocal = sessionmaker(engine, expire_on_commit=False)


def get_db():
    with SessionLocal() as session:
        yield session
'''

HARDCODED_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Entry(Base):
    __tablename__ = "anyapp_hc_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(100))
"""

HARDCODED_MAIN = """
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import select

from anyapp.db import engine, get_db
from anyapp.models import Base, Entry


@asynccontextmanager
async def lifespan(app):
    Base.metadata.create_all(engine)  # "quick start" schema: the app makes its own tables
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/entries", status_code=201)
def add_entry(payload: dict, db=Depends(get_db)):
    db.add(Entry(text=payload["text"]))
    db.commit()
    return payload


@app.get("/entries")
def list_entries(db=Depends(get_db)):
    return list(db.scalars(select(Entry.text).order_by(Entry.id)))
"""

HARDCODED_FILES = {
    "anyapp/__init__.py": "",
    "anyapp/db.py": HARDCODED_DB,
    "anyapp/models.py": HARDCODED_MODELS,
    "anyapp/main.py": HARDCODED_MAIN,
}

HARDCODED_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
"""

HARDCODED_TESTS = """
import os


def test_1_app_writes(sync_client):
    assert sync_client.post("/entries", json={"text": "a"}).status_code == 201
    assert sync_client.get("/entries").json() == ["a"]


def test_2_nothing_leaked(sync_client):
    assert sync_client.get("/entries").json() == []


def test_3_engine_points_at_a_test_database(sync_client):
    from anyapp.db import engine

    assert os.path.basename(engine.url.database).removesuffix(".db") == "test_anyapp_hc"
"""


def _mariadb_schemas_with(server: str, table: str) -> set[str]:
    engine = sqlalchemy.create_engine(_sync_server_url(server, None), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
                (table,),
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def test_hard_coded_url_and_lifespan_create_all_on_the_apps_own_server(app: AnyApp) -> None:
    app.write(
        HARDCODED_FILES, table=HARDCODED_TABLE, tests=HARDCODED_TESTS, URL=app.url("anyapp_hc")
    )
    if app.server is not None:
        assert "anyapp_hc" not in app.databases()
    result = app.run(own_server=True)  # no --testbed-db-url: the engine's own server
    result.assert_outcomes(passed=3)
    app.assert_untouched("anyapp_hc")
    if app.backend == "mariadb":
        assert app.server is not None
        assert _mariadb_schemas_with(app.server, "anyapp_hc_entries") == set()


# --- two databases, two declarative bases ---------------------------------------------------------

TWO_DB = '''
"""Orders live in the main database, events in the analytics one."""
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

main = create_async_engine("<MAIN_URL>")
analytics = create_async_engine("<ANALYTICS_URL>")
MainSession = async_sessionmaker(main, expire_on_commit=False)
AnalyticsSession = async_sessionmaker(analytics, expire_on_commit=False)


async def get_main():
    async with MainSession() as session:
        yield session


async def get_analytics():
    async with AnalyticsSession() as session:
        yield session
'''

TWO_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class MainBase(DeclarativeBase):
    pass


class AnalyticsBase(DeclarativeBase):
    pass


class Order(MainBase):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    product: Mapped[str] = mapped_column(String(50))


class Event(AnalyticsBase):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
"""

TWO_MAIN = """
from fastapi import Depends, FastAPI
from sqlalchemy import func, select

from anyapp.db import get_analytics, get_main
from anyapp.models import Event, Order

app = FastAPI(title="Shop")


@app.post("/orders", status_code=201)
async def place_order(payload: dict, db=Depends(get_main), events=Depends(get_analytics)):
    db.add(Order(product=payload["product"]))
    await db.commit()
    events.add(Event(kind="order_placed"))
    await events.commit()
    return payload


@app.get("/stats")
async def stats(db=Depends(get_main), events=Depends(get_analytics)):
    return {
        "orders": await db.scalar(select(func.count(Order.id))),
        "events": await events.scalar(select(func.count(Event.id))),
    }
"""

TWO_FILES = {
    "anyapp/__init__.py": "",
    "anyapp/db.py": TWO_DB,
    "anyapp/models.py": TWO_MODELS,
    "anyapp/main.py": TWO_MAIN,
}

TWO_TABLE = """
[tool.testbed]
app = "anyapp.main:app"
metadata = "anyapp.models:MainBase.metadata"

[tool.testbed.databases.anyapp_analytics]
metadata = "anyapp.models:AnalyticsBase.metadata"
"""

TWO_TESTS = """
import os

import pytest
from sqlalchemy import func, inspect, select

from anyapp.db import analytics, main
from anyapp.models import Order

pytestmark = pytest.mark.anyio


def name(engine):
    return os.path.basename(engine.url.database).removesuffix(".db")


async def tables(engine):
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_1_both_test_databases_built_and_written(client, db_session):
    assert (name(main), name(analytics)) == ("test_anyapp", "test_anyapp_analytics")
    assert await tables(main) == {"orders"}
    assert await tables(analytics) == {"events"}
    assert (await client.post("/orders", json={"product": "book"})).status_code == 201
    assert (await client.get("/stats")).json() == {"orders": 1, "events": 1}
    assert await db_session.scalar(select(func.count(Order.id))) == 1


async def test_2_both_rolled_back(client):
    assert (await client.get("/stats")).json() == {"orders": 0, "events": 0}
"""


def test_two_databases_each_built_from_its_own_metadata_and_isolated(app: AnyApp) -> None:
    app.write(
        TWO_FILES,
        table=TWO_TABLE,
        tests=TWO_TESTS,
        MAIN_URL=app.url("anyapp", "async"),
        ANALYTICS_URL=app.url("anyapp_analytics", "async"),
    )
    app.run().assert_outcomes(passed=2)
    app.assert_untouched("anyapp", "anyapp_analytics")
