"""Shared fixtures for the plugin's own tests: small apps written into pytester's folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

# pytester's inline runs drop the modules a run imported; C extensions such as asyncpg's crash
# when imported a second time in one process, so import every driver here, once, up front.
import aiomysql  # noqa: F401
import aiosqlite  # noqa: F401
import asyncpg  # noqa: F401
import fastapi  # noqa: F401
import psycopg  # noqa: F401
import pymysql  # noqa: F401
import pytest
import sqlalchemy.dialects.mysql.aiomysql
import sqlalchemy.dialects.postgresql.asyncpg
import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401

SERVERS = {
    "sqlite": None,
    "postgresql": "postgresql://postgres@127.0.0.1:5432/",
    "mariadb": "mysql://root@127.0.0.1:3306/",
}

ASYNC_DB = """
import os
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

URL_AT_IMPORT = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./tbapp.db")
engine = create_async_engine(URL_AT_IMPORT)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_db():
    async with SessionLocal() as session:
        yield session
"""

SYNC_DB = """
import os
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

URL_AT_IMPORT = os.environ.get("DATABASE_URL", "sqlite:///./tbapp.db")
engine = create_engine(URL_AT_IMPORT, connect_args={})
SessionLocal = sessionmaker(engine, expire_on_commit=False)


def get_db():
    with SessionLocal() as session:
        yield session
"""

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
"""

ASYNC_MAIN = """
import os
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tbapp.db import SessionLocal, get_db
from tbapp.models import Item

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    app.state.ready = True
    yield
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


async def remember(name):
    async with SessionLocal() as session:  # a session the app opens itself
        session.add(Item(name=name))
        await session.commit()


@app.post("/items", status_code=201)
async def create(payload: dict, background: BackgroundTasks, db=Depends(get_db)):
    item = Item(name=payload["name"])
    db.add(item)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "taken")
    if payload.get("background"):
        background.add_task(remember, "bg-" + payload["name"])
    return {"id": item.id, "name": item.name}  # attributes after commit: expire_on_commit kept


@app.post("/items/checked", status_code=201)
async def read_then_write(payload: dict, db=Depends(get_db)):
    # a read first, then a write: two of these at once deadlock under SQLite's deferred BEGIN
    if await db.scalar(select(Item.id).where(Item.name == payload["name"])) is not None:
        raise HTTPException(409, "taken")
    db.add(Item(name=payload["name"]))
    await db.commit()
    return {"name": payload["name"]}


@app.post("/items/rollback")
async def add_then_rollback(payload: dict, db=Depends(get_db)):
    db.add(Item(name=payload["name"]))
    await db.flush()
    await db.rollback()
    return {"count": await db.scalar(select(func.count(Item.id)))}


@app.get("/items")
async def names(db=Depends(get_db)):
    return [item.name for item in await db.scalars(select(Item).order_by(Item.id))]


@app.get("/state")
async def state():
    return {"ready": getattr(app.state, "ready", False), "events": EVENTS}
"""

SYNC_MAIN = """
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tbapp.db import SessionLocal, get_db
from tbapp.models import Item

app = FastAPI()


def remember(name):
    with SessionLocal() as session:
        session.add(Item(name=name))
        session.commit()


@app.post("/items", status_code=201)
def create(payload: dict, background: BackgroundTasks, db=Depends(get_db)):
    item = Item(name=payload["name"])
    db.add(item)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "taken")
    if payload.get("background"):
        background.add_task(remember, "bg-" + payload["name"])
    return {"id": item.id, "name": item.name}


@app.post("/items/rollback")
def add_then_rollback(payload: dict, db=Depends(get_db)):
    db.add(Item(name=payload["name"]))
    db.flush()
    db.rollback()
    return {"count": db.scalar(select(func.count(Item.id)))}


@app.get("/items")
def names(db=Depends(get_db)):
    return [item.name for item in db.scalars(select(Item).order_by(Item.id))]
"""

# Every generated project runs anyio's tests on asyncio (the plugin supports asyncio only).
ANYIO_ON_ASYNCIO = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"

"""

TABLE = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"
{ini}

[tool.testbed]
app = "tbapp.main:app"
metadata = "tbapp.models:Base.metadata"
{makers}
env = {{ SECRET_KEY = "from-testbed" }}
{extra}
"""


@dataclass
class Project:
    """A small FastAPI app in pytester's folder, and a way to run pytest on it."""

    pytester: pytest.Pytester
    server: str | None

    def write(
        self,
        tests: str,
        *,
        flavour: str = "async",
        mode: str = "sessionmaker",
        ini: str = "",
        extra: str = "",
        conftest: str = "",
    ) -> None:
        package = self.pytester.mkpydir("tbapp")
        (package / "db.py").write_text(ASYNC_DB if flavour == "async" else SYNC_DB)
        (package / "models.py").write_text(MODELS)
        (package / "main.py").write_text(ASYNC_MAIN if flavour == "async" else SYNC_MAIN)
        makers = (
            'sessionmakers = ["tbapp.db:SessionLocal"]'
            if mode == "sessionmaker"
            else 'dependency = "tbapp.db:get_db"'
        )
        self.pytester.makepyprojecttoml(TABLE.format(ini=ini, makers=makers, extra=extra))
        self.pytester.makepyfile(test_app=textwrap.dedent(tests))
        self.pytester.makeconftest(ANYIO_ON_ASYNCIO + textwrap.dedent(conftest))

    def run(
        self, *args: str, subprocess: bool = False, timeout: float | None = None
    ) -> pytest.RunResult:
        options = ["-p", "no:randomly", "-p", "no:cacheprovider", *args]
        if self.server and not any(a.startswith("--testbed-db-url") for a in args):
            options += ["--testbed-db-url", self.server]
        if subprocess:
            return self.pytester.runpytest_subprocess(*options, timeout=timeout)
        return self.pytester.runpytest(*options)


def build(
    project: Project,
    tests: str,
    *,
    flavour: str = "async",
    routes: str = "",
    models: str = "",
    modules: dict[str, str] | None = None,
    extra: str = "",
    conftest: str = "",
    ini: str = "",
) -> Project:
    """The core's app, with `routes` appended to tbapp/main.py, `models` to tbapp/models.py,
    and `modules` added to tbapp/."""
    project.write(
        textwrap.dedent(tests),
        flavour=flavour,
        extra=textwrap.dedent(extra),
        conftest=conftest,
        ini=ini,
    )
    package = project.pytester.path / "tbapp"
    for name, source in (modules or {}).items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    if models:
        path = package / "models.py"
        path.write_text(path.read_text() + "\n" + textwrap.dedent(models))
    if routes:
        main = package / "main.py"
        main.write_text(main.read_text() + "\n" + textwrap.dedent(routes))
    return project


@pytest.fixture(params=list(SERVERS))
def project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Project:
    """A project run on each database: SQLite, PostgreSQL, MariaDB."""
    return Project(pytester, SERVERS[request.param])


@pytest.fixture
def sqlite_project(pytester: pytest.Pytester) -> Project:
    """A project on the embedded default (for behaviour that concerns no server)."""
    return Project(pytester, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def sqlite_or_pg_project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Project:
    return Project(pytester, SERVERS[request.param])


def server_databases(server: str) -> set[str]:
    """The names of the databases on a server, read with a sync driver."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server)
    if url.get_backend_name() == "postgresql":
        url, query = (
            url.set(drivername="postgresql+psycopg", database="postgres"),
            ("SELECT datname FROM pg_database"),
        )
    else:
        url, query = url.set(drivername="mysql+pymysql"), "SHOW DATABASES"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(query))}
    finally:
        engine.dispose()


Check = Callable[[str], set[str]]


@pytest.fixture
def databases_on() -> Check:
    return server_databases
