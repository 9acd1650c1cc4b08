"""Every driver the README names runs the isolation scenarios, named explicitly in the URL.

One small app (``drvapp``, test database ``test_drvapp``) per run: a sync app for the sync
drivers, an async app for the async ones. Each run holds the scenarios of test_isolation.py:
writes rolled back between tests (a background task's session included), the app's rollback and
a unique violation that leave the test's data and transaction usable, and a savepoint
(``begin_nested``) that really rolls back; then truncate isolation, whose commits are real, on
the engine's own pooled connections. Async runs add a streamed result (a server-side cursor) and
the synchronous ``TestClient`` from an async test, so the driver's connection is awaited from
three loops. Last, bridge.DriverProxy itself: it passes for the driver's class (psycopg's
``TypeInfo.fetch`` checks), serves ``async with`` and ``async for`` on the owner loop, and runs a
driver coroutine that never waits at once, without a hop to the owner loop's thread.
"""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import dataclass
from typing import Any

# Imported once, up front, as tests/conftest.py does for the others: pytester's inline runs drop
# what a run imported, and C extensions crash when imported twice in one process.
import asyncmy  # noqa: F401
import pytest
import sqlalchemy.dialects.mysql.asyncmy
import sqlalchemy.dialects.mysql.pymysql
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401

from fastapi_testbed.bridge import DriverProxy, LoopThread, bridged_connect

PG = "postgresql+{driver}://postgres@127.0.0.1:5432/"
MARIADB = "mysql+{driver}://root@127.0.0.1:3306/"

# (flavour, driver, --testbed-db-url)
DRIVERS = [
    ("sync", "pysqlite", "sqlite+pysqlite://"),
    ("sync", "psycopg", PG.format(driver="psycopg")),
    ("sync", "pymysql", MARIADB.format(driver="pymysql")),
    ("async", "aiosqlite", "sqlite+aiosqlite://"),
    ("async", "asyncpg", PG.format(driver="asyncpg")),
    ("async", "psycopg", PG.format(driver="psycopg")),
    ("async", "aiomysql", MARIADB.format(driver="aiomysql")),
    ("async", "asyncmy", MARIADB.format(driver="asyncmy")),
]

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "drv_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
"""

ASYNC_APP = """
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from drvapp.models import Item

engine = create_async_engine("sqlite+aiosqlite:///./drvapp.db")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


async def get_db():
    async with SessionLocal() as session:
        yield session


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
    return {"id": item.id, "name": item.name}


@app.post("/items/rollback")
async def add_then_rollback(payload: dict, db=Depends(get_db)):
    db.add(Item(name=payload["name"]))
    await db.flush()
    await db.rollback()
    return {"count": await db.scalar(select(func.count(Item.id)))}


@app.get("/items")
async def names(db=Depends(get_db)):
    return [item.name for item in await db.scalars(select(Item).order_by(Item.id))]
"""

SYNC_APP = """
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from drvapp.models import Item

engine = create_engine("sqlite:///./drvapp.db")
SessionLocal = sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


def get_db():
    with SessionLocal() as session:
        yield session


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

ASYNC_TESTS = """
import asyncio

import pytest
from sqlalchemy import func, select, text
from drvapp.models import Item

pytestmark = pytest.mark.anyio


async def test_0_the_driver_asked_for(testbed):
    dialect = testbed.engine.sync_engine.dialect
    assert (dialect.driver, dialect.is_async) == ("{driver}", True)


async def test_1_app_commits(client, db_session):
    response = await client.post("/items", json={{"name": "a", "background": True}})
    assert response.status_code == 201, response.text
    assert (await client.get("/items")).json() == ["a", "bg-a"]
    assert await db_session.scalar(select(func.count(Item.id))) == 2


async def test_2_nothing_leaked(client, db_session):
    assert (await client.get("/items")).json() == []
    db_session.add(Item(name="from-test"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["from-test"]


async def test_3_app_rollback_keeps_test_data(client, db_session):
    assert await db_session.scalar(select(func.count(Item.id))) == 0
    db_session.add(Item(name="setup"))
    await db_session.commit()
    assert (await client.post("/items/rollback", json={{"name": "x"}})).json() == {{"count": 1}}
    assert (await client.get("/items")).json() == ["setup"]


async def test_4_unique_violation_leaves_transaction_usable(client, db_session):
    db_session.add(Item(name="dup"))
    await db_session.commit()
    assert (await client.post("/items", json={{"name": "dup"}})).status_code == 409
    assert (await client.post("/items", json={{"name": "other"}})).status_code == 201
    assert (await client.get("/items")).json() == ["dup", "other"]
    assert await db_session.scalar(select(func.count(Item.id))) == 2


async def test_5_savepoint_rollback_really_rolls_back(db_session):
    db_session.add(Item(name="kept"))
    await db_session.flush()
    nested = await db_session.begin_nested()
    db_session.add(Item(name="discarded"))
    await db_session.flush()
    await nested.rollback()
    assert (await db_session.scalars(select(Item.name))).all() == ["kept"]


async def test_5_streamed_results_on_a_server_side_cursor(db_session):
    db_session.add_all([Item(name=f"s{{i}}") for i in range(3)])
    await db_session.flush()
    streamed = await db_session.stream_scalars(select(Item.name).order_by(Item.name))
    assert [name async for name in streamed] == ["s0", "s1", "s2"]
    assert await db_session.scalar(select(func.count(Item.id))) == 3


@pytest.mark.asyncio
async def test_6_sync_client_from_an_async_test(sync_client, db_session):
    # the TestClient's loop, this test's loop, and the plugin's: one connection for all three
    db_session.add(Item(name="mine"))
    await db_session.commit()
    assert sync_client.post("/items", json={{"name": "b", "background": True}}).status_code == 201
    assert sync_client.get("/items").json() == ["mine", "b", "bg-b"]
    assert await db_session.scalar(select(func.count(Item.id))) == 3


def test_7_nothing_leaked_either(sync_client):
    assert sync_client.get("/items").json() == []


@pytest.mark.testbed(isolation="truncate")
async def test_8_truncate_real_commits_on_pooled_connections(client, testbed):
    names = [f"n{{i}}" for i in range(4)]
    responses = await asyncio.gather(*(client.post("/items", json={{"name": n}}) for n in names))
    assert {{r.status_code for r in responses}} == {{201}}
    async with testbed.engine.connect() as other:
        rows = (await other.execute(text("SELECT name FROM drv_items ORDER BY name"))).all()
    assert [row[0] for row in rows] == names


async def test_9_emptied_after_truncate(client, db_session):
    assert (await client.get("/items")).json() == []
    assert await db_session.scalar(select(func.count(Item.id))) == 0
"""

SYNC_TESTS = """
import pytest
from sqlalchemy import func, select, text
from drvapp.models import Item


def test_0_the_driver_asked_for(testbed):
    assert (testbed.engine.dialect.driver, testbed.engine.dialect.is_async) == ("{driver}", False)


def test_1_app_commits(sync_client, db_session):
    response = sync_client.post("/items", json={{"name": "a", "background": True}})
    assert response.status_code == 201, response.text
    assert sync_client.get("/items").json() == ["a", "bg-a"]
    assert db_session.scalar(select(func.count(Item.id))) == 2


def test_2_nothing_leaked(sync_client, db_session):
    assert sync_client.get("/items").json() == []
    db_session.add(Item(name="from-test"))
    db_session.commit()
    assert sync_client.get("/items").json() == ["from-test"]


def test_3_app_rollback_keeps_test_data(sync_client, db_session):
    assert db_session.scalar(select(func.count(Item.id))) == 0
    db_session.add(Item(name="setup"))
    db_session.commit()
    assert sync_client.post("/items/rollback", json={{"name": "x"}}).json() == {{"count": 1}}
    assert sync_client.get("/items").json() == ["setup"]


def test_4_unique_violation_leaves_transaction_usable(sync_client, db_session):
    db_session.add(Item(name="dup"))
    db_session.commit()
    assert sync_client.post("/items", json={{"name": "dup"}}).status_code == 409
    assert sync_client.post("/items", json={{"name": "other"}}).status_code == 201
    assert sync_client.get("/items").json() == ["dup", "other"]
    assert db_session.scalar(select(func.count(Item.id))) == 2


def test_5_savepoint_rollback_really_rolls_back(db_session):
    db_session.add(Item(name="kept"))
    db_session.flush()
    nested = db_session.begin_nested()
    db_session.add(Item(name="discarded"))
    db_session.flush()
    nested.rollback()
    assert db_session.scalars(select(Item.name)).all() == ["kept"]


def test_6_nothing_leaked_either(sync_client):
    assert sync_client.get("/items").json() == []


@pytest.mark.testbed(isolation="truncate")
def test_7_truncate_real_commits(sync_client, testbed):
    assert sync_client.post("/items", json={{"name": "a", "background": True}}).status_code == 201
    with testbed.engine.connect() as other:
        rows = other.execute(text("SELECT name FROM drv_items ORDER BY name")).all()
    assert [row[0] for row in rows] == ["a", "bg-a"]


def test_8_emptied_after_truncate(sync_client, db_session):
    assert sync_client.get("/items").json() == []
    assert db_session.scalar(select(func.count(Item.id))) == 0
"""

ANYIO_ON_ASYNCIO = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

TABLE = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"

[tool.testbed]
app = "drvapp.main:app"
metadata = "drvapp.models:Base.metadata"
sessionmakers = ["drvapp.main:SessionLocal"]
"""


@dataclass
class DriverProject:
    """The ``drvapp`` project in pytester's folder, run on one server with one driver."""

    pytester: pytest.Pytester
    flavour: str
    driver: str
    url: str

    def write(self) -> None:
        package = self.pytester.mkpydir("drvapp")
        (package / "models.py").write_text(MODELS)
        (package / "main.py").write_text(ASYNC_APP if self.flavour == "async" else SYNC_APP)
        self.pytester.makepyprojecttoml(TABLE)
        self.pytester.makeconftest(ANYIO_ON_ASYNCIO)
        tests = ASYNC_TESTS if self.flavour == "async" else SYNC_TESTS
        self.pytester.makepyfile(test_drvapp=textwrap.dedent(tests.format(driver=self.driver)))

    def run(self) -> pytest.RunResult:
        return self.pytester.runpytest(
            *("-p", "no:randomly", "-p", "no:cacheprovider", "--testbed-db-url", self.url),
            *("-W", "error::pytest.PytestUnraisableExceptionWarning"),  # no unclosed connection
        )


@pytest.mark.parametrize(
    ("flavour", "driver", "url"),
    DRIVERS,
    ids=[f"{flavour}-{driver}" for flavour, driver, _ in DRIVERS],
)
def test_isolation_on_every_driver(
    pytester: pytest.Pytester, flavour: str, driver: str, url: str
) -> None:
    project = DriverProject(pytester, flavour, driver, url)
    project.write()
    result = project.run()
    result.assert_outcomes(passed=11 if flavour == "async" else 9)
    output = result.stdout.str()
    assert f"-> {url.split('://')[0]}://" in output  # the report header names the test engine
    assert "attached to a different loop" not in output


# --- the proxy itself ------------------------------------------------------------------------


class FakeCursor:
    """A driver object of the async kind: coroutine methods, async with, async for."""

    def __init__(self) -> None:
        self.loops: list[object] = []
        self.rows = [1, 2, 3]

    async def execute(self) -> None:
        self.loops.append(asyncio.get_running_loop())

    async def __aenter__(self) -> FakeCursor:
        self.loops.append(asyncio.get_running_loop())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.loops.append(asyncio.get_running_loop())

    def __aiter__(self) -> FakeCursor:
        return self

    async def __anext__(self) -> int:
        self.loops.append(asyncio.get_running_loop())
        if not self.rows:
            raise StopAsyncIteration
        return self.rows.pop(0)


def test_proxy_passes_for_the_driver_class_and_runs_every_step_on_the_owner_loop() -> None:
    owner = LoopThread()
    try:
        target = FakeCursor()
        proxy = DriverProxy(target, owner)
        assert isinstance(proxy, FakeCursor)
        assert isinstance(proxy, DriverProxy)
        assert type(proxy) is DriverProxy

        async def use() -> list[int]:
            async with proxy as entered:
                assert entered is proxy
                await entered.execute()
                return [row async for row in entered]

        assert asyncio.run(use()) == [1, 2, 3]
        assert set(target.loops) == {owner.loop}
    finally:
        owner.close()


def test_psycopg_type_info_fetch_through_the_proxy() -> None:
    # what SQLAlchemy's psycopg dialect calls for hstore, and pgvector's register_vector_async
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from psycopg.types import TypeInfo

    owner = LoopThread()
    try:
        connect = bridged_connect(owner, AsyncConnection.connect)

        async def use() -> tuple[object, list[dict[str, object]]]:
            connection = await connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
            try:
                info = await TypeInfo.fetch(connection, "int4")
                async with connection.cursor(row_factory=dict_row) as cursor:
                    await cursor.execute("SELECT 1 AS one UNION ALL SELECT 2")
                    rows = [row async for row in cursor]
            finally:
                await connection.close()
            return info, rows

        info, rows = asyncio.run(use())  # a loop other than the connection's
        assert info is not None and info.oid == 23
        assert rows == [{"one": 1}, {"one": 2}]
    finally:
        owner.close()


class QuietCursor(FakeCursor):
    """A driver object with a coroutine method that never waits, and one that does."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[object] = []

    async def describe(self) -> str:
        import threading

        self.threads.append(threading.current_thread())
        self.loops.append(asyncio.get_running_loop())
        return "described"

    async def execute(self) -> None:
        import threading

        await asyncio.sleep(0)
        self.threads.append(threading.current_thread())
        self.loops.append(asyncio.get_running_loop())


def test_a_driver_coroutine_that_never_waits_runs_at_once_as_if_on_the_owner_loop() -> None:
    import threading

    owner = LoopThread()
    calls: list[str] = []
    plain_call = owner.call

    def counted(coroutine: Any) -> Any:
        calls.append(coroutine.__qualname__)
        return plain_call(coroutine)

    owner.call = counted  # type: ignore[method-assign]
    try:
        target = QuietCursor()
        proxy = DriverProxy(target, owner)

        async def use() -> str:
            described: str = await proxy.describe()
            await proxy.execute()
            return described

        assert asyncio.run(use()) == "described"
        assert calls == ["QuietCursor.execute"]  # describe() never waits: not run on the loop
        assert target.threads[0] is threading.current_thread()
        assert target.loops == [owner.loop, owner.loop]
    finally:
        owner.close()


def test_aiomysql_crosses_to_the_owner_loop_once_per_statement() -> None:
    # A hop costs two thread wake-ups (about a local round trip). aiomysql's cursor asked for
    # three per statement: entering connection.cursor(), the execute, and close().
    import aiomysql  # type: ignore[import-untyped]
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from fastapi_testbed.bridge import hop_for_dialect

    owner = LoopThread()
    crossings: list[str] = []
    plain_call = owner.call

    def counted(coroutine: Any) -> Any:
        if not owner.in_thread:
            crossings.append(coroutine.__qualname__)
        return plain_call(coroutine)

    owner.call = counted  # type: ignore[method-assign]
    connect = bridged_connect(owner, aiomysql.connect)
    engine = create_async_engine(
        MARIADB.format(driver="aiomysql"),
        async_creator=lambda: connect(host="127.0.0.1", port=3306, user="root"),
    )
    hop_for_dialect(engine.sync_engine.dialect)

    async def use() -> list[int]:
        async with engine.connect() as connection:
            crossings.clear()
            first = (await connection.execute(text("SELECT 1"))).scalar_one()
            second = (await connection.execute(text("SELECT 2"))).scalar_one()
            counted_ = len(crossings)
        await engine.dispose()
        return [first, second, counted_]

    try:
        assert asyncio.run(use()) == [1, 2, 2], crossings
    finally:
        owner.close()


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_closing_the_loop_closes_the_driver_connections_still_open_on_it(server: str) -> None:
    """A driver connection nobody closed (a pool the app dropped, a connection it detached) was
    closed by its ``__del__`` after the plugin's loop was gone: aiomysql's then raised "Event
    loop is closed", which pytest prints as an unraisable-exception warning after the run."""
    import aiomysql
    import asyncpg

    loop = LoopThread()
    if server == "postgresql":
        connect = bridged_connect(loop, asyncpg.connect)
        options = {"host": "127.0.0.1", "user": "postgres", "database": "postgres"}
    else:
        connect = bridged_connect(loop, aiomysql.connect)
        options = {"host": "127.0.0.1", "user": "root"}

    async def left_open() -> Any:
        return object.__getattribute__(await connect(**options), "_tb_target")

    try:
        connection = asyncio.run(left_open())
    finally:
        loop.close()
    assert connection.is_closed() if server == "postgresql" else connection.closed
