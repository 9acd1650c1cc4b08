"""Each test runs in one transaction rolled back at the end, whatever the app commits."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import SERVERS, Project, build

ROLLBACK_BETWEEN_TESTS = """
import pytest
from sqlalchemy import func, select
from tbapp.models import Item

pytestmark = pytest.mark.anyio



async def test_1_app_commits(client, db_session):
    response = await client.post("/items", json={"name": "a", "background": True})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a"
    assert (await client.get("/items")).json() == ["a", "bg-a"]
    assert await db_session.scalar(select(func.count(Item.id))) == 2


async def test_2_nothing_leaked(client, db_session):
    assert (await client.get("/items")).json() == []
    db_session.add(Item(name="from-test"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["from-test"]


async def test_3_nothing_leaked_either(db_session):
    assert await db_session.scalar(select(func.count(Item.id))) == 0
"""


def test_writes_are_rolled_back_between_tests(project: Project) -> None:
    project.write(ROLLBACK_BETWEEN_TESTS)
    project.run().assert_outcomes(passed=3)


APP_ROLLBACK = """
import pytest
from sqlalchemy import func, select
from tbapp.models import Item

pytestmark = pytest.mark.anyio



async def test_app_rollback_keeps_test_data(client, db_session):
    db_session.add(Item(name="setup"))
    await db_session.commit()
    response = await client.post("/items/rollback", json={"name": "discarded"})
    assert response.json() == {"count": 1}
    assert (await client.get("/items")).json() == ["setup"]


async def test_unique_violation_leaves_transaction_usable(client, db_session):
    db_session.add(Item(name="dup"))
    await db_session.commit()
    assert (await client.post("/items", json={"name": "dup"})).status_code == 409
    assert (await client.post("/items", json={"name": "other"})).status_code == 201
    assert (await client.get("/items")).json() == ["dup", "other"]
    assert await db_session.scalar(select(func.count(Item.id))) == 2
"""


def test_app_rollback_and_failed_statement_keep_setup(project: Project) -> None:
    project.write(APP_ROLLBACK)
    project.run().assert_outcomes(passed=2)


NESTED = """
import pytest
from sqlalchemy import func, select
from tbapp.models import Item


@pytest.mark.anyio
async def test_savepoint_rollback_really_rolls_back(db_session):
    db_session.add(Item(name="kept"))
    await db_session.flush()
    nested = await db_session.begin_nested()
    db_session.add(Item(name="discarded"))
    await db_session.flush()
    await nested.rollback()
    names = (await db_session.scalars(select(Item.name))).all()
    assert names == ["kept"]

"""


def test_savepoints_work_on_every_database(project: Project) -> None:
    # pysqlite/aiosqlite's lazy BEGIN breaks SAVEPOINT unless the plugin takes BEGIN over
    project.write(NESTED)
    project.run().assert_outcomes(passed=1)


# The plugin's own statements around the app's (savepoints; asyncpg's scripts), as a test module
# records them in SENT.
RECORDED = """
from fastapi_testbed import sharing

SENT = []
_execute, _script_of = sharing.execute, sharing._script_of


def recording(connection, statement):
    SENT.append(statement)
    _execute(connection, statement)


def recording_script_of(raw):
    script = _script_of(raw)
    if script is None:
        return None

    def recorded(statements):
        SENT.append(statements)
        script(statements)

    return recorded


def sent_words():
    return [statement.split()[0].rstrip(";") for statement in SENT]


sharing.execute, sharing._script_of = recording, recording_script_of
"""


SAVEPOINTS_SENT = (
    RECORDED
    + """
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from tbapp.models import Item


pytestmark = pytest.mark.anyio


def names(db_session):
    return db_session.scalars(select(Item.name).order_by(Item.name))


async def test_a_transaction_that_only_reads_sends_no_savepoint(client, db_session, testbed):
    db_session.add(Item(name="setup"))
    await db_session.commit()
    SENT.clear()
    assert (await client.get("/items")).json() == ["setup"]
    assert await db_session.scalar(select(func.count(Item.id))) == 1
    # PostgreSQL aborts the whole transaction on a failed statement: there, every savepoint
    lazy = testbed.url.get_backend_name() != "postgresql"
    assert ("SAVEPOINT" in sent_words()) is not lazy, SENT


async def test_a_write_after_reads_is_rolled_back_with_its_transaction(db_session):
    db_session.add(Item(name="kept"))
    await db_session.commit()
    assert await db_session.scalar(select(func.count(Item.id))) == 1
    db_session.add(Item(name="discarded"))
    await db_session.flush()
    await db_session.rollback()
    assert (await names(db_session)).all() == ["kept"]


async def test_a_failed_read_then_rollback_keeps_the_tests_data(db_session):
    db_session.add(Item(name="kept"))
    await db_session.commit()
    with pytest.raises(DBAPIError):
        await db_session.execute(text("SELECT no_such_column FROM items"))
    await db_session.rollback()
    assert (await names(db_session)).all() == ["kept"]


async def test_a_nested_write_under_a_transaction_that_only_read(client, db_session):
    db_session.add(Item(name="kept"))
    await db_session.commit()
    assert (await names(db_session)).all() == ["kept"]
    nested = await db_session.begin_nested()
    db_session.add(Item(name="discarded"))
    await db_session.flush()
    await nested.rollback()
    await db_session.commit()
    assert (await client.get("/items")).json() == ["kept"]

async def test_statements_an_api_test_sends_around_the_apps(client, db_session, testbed):
    SENT.clear()
    created = await client.post("/items", json={"name": "a"})
    assert (await client.get("/items")).json() == ["a"]
    assert (await db_session.get(Item, created.json()["id"])).name == "a"
    if testbed.url.get_backend_name() == "postgresql":
        # the POST's savepoint was begun by the last test's end (asyncpg: ROLLBACK; BEGIN;
        # SAVEPOINT tb_1), the GET's follows the INSERT; no RELEASE: each stays set, and the
        # read reuses the GET's (nothing written since)
        assert sent_words() == ["SAVEPOINT"]
    else:  # the reads send no savepoint at all
        assert sent_words() == ["SAVEPOINT", "RELEASE"]


async def test_many_commits_then_a_rollback_undoes_only_the_last_write(client, db_session):
    for number in range(sharing.KEEP_AT_MOST + 8):
        assert (await client.post("/items", json={"name": f"n{number}"})).status_code == 201
    response = await client.post("/items/rollback", json={"name": "discarded"})
    assert response.json() == {"count": sharing.KEEP_AT_MOST + 8}
    assert await db_session.scalar(select(func.count(Item.id))) == sharing.KEEP_AT_MOST + 8


async def test_a_rollback_after_reads_keeps_what_was_committed_before(client, db_session):
    db_session.add(Item(name="kept"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["kept"]
    response = await client.post("/items/rollback", json={"name": "discarded"})
    assert response.json() == {"count": 1}
    assert (await client.get("/items")).json() == ["kept"]
    await db_session.rollback()
    assert await db_session.scalar(select(func.count(Item.id))) == 1
"""
)


def test_each_database_gets_as_few_savepoint_statements_as_it_allows(project: Project) -> None:
    # MariaDB and SQLite: a savepoint is sent before the first statement that is not a SELECT.
    # PostgreSQL: a commit sends no RELEASE; a transaction reuses the savepoint left set if
    # nothing was written since; past KEEP_AT_MOST kept ones, the newest is released first.
    project.write(SAVEPOINTS_SENT)
    project.run().assert_outcomes(passed=7)


ONE_ROUND_TRIP_BETWEEN_TESTS = (
    RECORDED
    + """
import pytest
from sqlalchemy import select, text
from tbapp.models import Item


pytestmark = pytest.mark.anyio


async def test_1_first(db_session):
    assert SENT == []
    assert (await db_session.execute(text("select 1"))).scalar_one() == 1
    assert SENT == ["BEGIN; SAVEPOINT tb_1"]  # one round trip for both


async def test_2_begun_by_the_end_of_the_last(db_session):
    assert SENT == ["BEGIN; SAVEPOINT tb_1", "ROLLBACK; BEGIN; SAVEPOINT tb_1"]
    db_session.add(Item(name="a"))
    await db_session.commit()
    assert len(SENT) == 2  # the savepoint begun with the last test's ROLLBACK served


@pytest.mark.testbed(isolation="truncate")
async def test_3_real_commits_on_pooled_connections(client, testbed):
    assert (await client.post("/items", json={"name": "b"})).status_code == 201
    async with testbed.engine.connect() as other:
        names = (await other.execute(text("SELECT name FROM items"))).scalars().all()
    assert names == ["b"]


async def test_4_nothing_left_by_either(client, db_session):
    assert (await client.get("/items")).json() == []
    assert (await db_session.scalars(select(Item.name))).all() == []
"""
)


def test_asyncpg_ends_a_test_and_begins_the_next_in_one_round_trip(
    pytester: pytest.Pytester,
) -> None:
    project = Project(pytester, SERVERS["postgresql"])  # the async app's driver: asyncpg
    project.write(ONE_ROUND_TRIP_BETWEEN_TESTS)
    project.run().assert_outcomes(passed=4)


OPTIONS_KEPT = """
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tbapp.db import SessionLocal


class AppSession(AsyncSession):
    pass


@pytest.fixture(autouse=True)
def custom_class():
    original = SessionLocal.class_
    SessionLocal.class_ = AppSession
    SessionLocal.configure(autoflush=False)
    yield
    SessionLocal.class_ = original


@pytest.mark.anyio
async def test_db_session_is_made_by_the_apps_sessionmaker(db_session, testbed):
    assert type(db_session) is AppSession
    assert db_session.sync_session.expire_on_commit is False
    assert db_session.sync_session.autoflush is False
    assert db_session.bind.sync_engine is testbed.engine.sync_engine  # the app's own engine


def test_sessionmaker_never_reconfigured():
    assert "join_transaction_mode" not in SessionLocal.kw
    assert SessionLocal.kw["autoflush"] is False  # the app's own change, kept
    assert "test_tbapp" in SessionLocal.kw["bind"].url.database

"""


def test_app_sessionmaker_options_are_kept_and_restored(sqlite_or_pg_project: Project) -> None:
    sqlite_or_pg_project.write(OPTIONS_KEPT)
    sqlite_or_pg_project.run().assert_outcomes(passed=2)


OVERRIDES_RESTORED = """
import pytest
from tbapp.main import app


def original():
    return "original"


def replacement():
    return "replacement"


app.dependency_overrides[original] = original


def test_1_changes_overrides(testbed):
    testbed.app.dependency_overrides[original] = replacement
    testbed.app.dependency_overrides[replacement] = replacement


def test_2_sees_them_restored(testbed):
    assert testbed.app.dependency_overrides == {original: original}
"""


def test_dependency_overrides_are_restored_exactly(sqlite_project: Project) -> None:
    sqlite_project.write(OVERRIDES_RESTORED)
    sqlite_project.run().assert_outcomes(passed=2)


DEPENDENCY_MODE = """
import pytest
from tbapp.db import get_db
from tbapp.main import app

pytestmark = pytest.mark.anyio



async def test_1_override_installed(client, db_session):
    assert get_db in app.dependency_overrides
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    assert (await client.get("/items")).json() == ["a"]


async def test_2_rolled_back(client):
    assert (await client.get("/items")).json() == []


def test_3_override_removed_after_tests_using_it():
    assert get_db not in app.dependency_overrides
"""


def test_dependency_mode_overrides_the_session_dependency(project: Project) -> None:
    project.write(DEPENDENCY_MODE, mode="dependency")
    project.run().assert_outcomes(passed=3)


SYNC_APP = """
from sqlalchemy import func, select
from tbapp.models import Item


def test_1_sync_app_commits(sync_client, db_session):
    assert sync_client.post("/items", json={"name": "a", "background": True}).status_code == 201
    assert sync_client.get("/items").json() == ["a", "bg-a"]
    assert db_session.scalar(select(func.count(Item.id))) == 2
    assert sync_client.post("/items/rollback", json={"name": "x"}).json() == {"count": 2}


def test_2_rolled_back(sync_client, db_session):
    assert sync_client.get("/items").json() == []
    db_session.add(Item(name="mine"))
    db_session.commit()
    assert sync_client.post("/items", json={"name": "mine"}).status_code == 409
    assert sync_client.get("/items").json() == ["mine"]
"""


def test_sync_app_with_sync_client(project: Project) -> None:
    project.write(SYNC_APP, flavour="sync")
    project.run().assert_outcomes(passed=2)


CONCURRENT = """
import asyncio
import pytest

pytestmark = pytest.mark.anyio



async def test_concurrent_requests_on_one_connection(client):
    # each request waits while its session is in a transaction: they interleave on one connection
    await asyncio.gather(
        *(client.post("/items/yielding", json={"name": f"n{i}"}) for i in range(10))
    )


@pytest.mark.testbed(isolation="truncate")
async def test_concurrent_requests_with_truncate(client):
    responses = await asyncio.gather(
        *(client.post("/items/yielding", json={"name": f"n{i}"}) for i in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len((await client.get("/items")).json()) == 10


@pytest.mark.testbed(isolation="truncate")
async def test_concurrent_read_then_write_queue_up(client):
    responses = await asyncio.gather(
        *(client.post("/items/checked", json={"name": f"c{i}"}) for i in range(5))
    )
    assert {r.status_code for r in responses} == {201}
"""


YIELDING = """
import asyncio


@app.post("/items/yielding", status_code=201)
async def read_yield_write(payload: dict, db=Depends(get_db)):
    # a read opens the session's transaction; the await between lets other requests in (a real
    # app calls another service there)
    await db.scalar(select(Item.id).where(Item.name == payload["name"]))
    await asyncio.sleep(0.01)
    db.add(Item(name=payload["name"]))
    await db.commit()
    return {"name": payload["name"]}
"""


def test_concurrent_use_fails_clearly_and_truncate_allows_it(project: Project) -> None:
    build(project, CONCURRENT, routes=YIELDING)
    result = project.run()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*used concurrently*", '*mark the test @pytest.mark.testbed(isolation="truncate")*']
    )


LEFT_RUNNING = """
import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from tbapp.models import Item

pytestmark = pytest.mark.{marker}


async def test_a_request_still_waiting_when_the_test_ends(client, db_session):
    # another process holds SQLite's write lock, so the app's write waits; the test forgets to
    # await its request, whose statement ends after the test's event loop is closed
    path = (await db_session.connection()).engine.url.database
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, other.rollback).start()
    asyncio.get_running_loop().create_task(client.post("/items", json={{"name": "late"}}))
    await asyncio.sleep(0.1)


async def test_the_next_test_runs_as_usual(client, db_session):
    assert (await client.post("/items", json={{"name": "next"}})).status_code == 201
    assert await db_session.scalar(select(func.count(Item.id))) == 1
"""


@pytest.mark.parametrize("runner", ["anyio", "asyncio"])
def test_a_statement_outliving_its_event_loop_does_not_hang_the_run(
    sqlite_project: Project, runner: str
) -> None:
    """aiosqlite's thread dies when it hands a result to a closed event loop (aiosqlite #241),
    and whatever then waits on that connection waits forever: the test's connection being
    closed, the next test. The plugin notices the dead thread and fails those waits."""
    build(sqlite_project, LEFT_RUNNING.format(marker=runner), ini='asyncio_mode = "strict"')
    result = sqlite_project.run(subprocess=True, timeout=30)
    result.assert_outcomes(passed=2)


ISOLATION_LEVEL_DB = """
import os
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"], isolation_level="REPEATABLE READ")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_db():
    async with SessionLocal() as session:
        yield session
"""

ISOLATION_LEVEL = """
import asyncio
import pytest
from sqlalchemy import text
from tbapp.db import SessionLocal

pytestmark = pytest.mark.anyio


async def levels(sessions):
    async def one():
        async with SessionLocal() as session:
            postgresql = session.bind.dialect.name == "postgresql"
            level = await session.scalar(
                text("SHOW transaction_isolation" if postgresql else "SELECT @@tx_isolation")
            )
            await asyncio.sleep(0.05)  # holds its connection while the others open theirs
            return level.lower().replace("-", " ")

    return set(await asyncio.gather(*(one() for _ in range(sessions))))


async def test_the_tests_transaction_has_the_engines_level():
    assert await levels(1) == {"repeatable read"}


async def test_again_on_the_connection_the_last_test_kept():
    assert await levels(1) == {"repeatable read"}


@pytest.mark.testbed(isolation="truncate")
async def test_every_pooled_connection_keeps_it():
    assert await levels(3) == {"repeatable read"}
"""


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_the_engines_isolation_level_holds_in_tests_and_in_its_pool(
    pytester: pytest.Pytester, server: str
) -> None:
    """The test's transaction begins with the isolation level of the app's engine (the plugin
    begins it itself on asyncpg), and the connections it gives back to the pool keep it."""
    project = Project(pytester, SERVERS[server])
    build(project, ISOLATION_LEVEL, modules={"db": ISOLATION_LEVEL_DB})
    result = project.run()
    result.assert_outcomes(passed=3)


def test_a_connection_given_back_unused_keeps_its_engines_isolation_level() -> None:
    """Two tasks that open the test's connection at once both connect, and the plugin gives the
    second back unused (``Scope._open``). Its adapter never held the plugin's transaction, so it
    goes back with the level its engine gave it, not the None a test's connection set aside."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from fastapi_testbed.sharing import end_plugin_transaction

    url = f"{SERVERS['postgresql']}postgres".replace("postgresql:", "postgresql+asyncpg:")
    engine = create_async_engine(url, isolation_level="REPEATABLE READ")

    async def given_back() -> str | None:
        try:
            async with engine.connect() as connection:  # reads nothing: no transaction begun
                fresh = await connection.get_raw_connection()
                await connection.run_sync(lambda _: end_plugin_transaction(fresh))
                return fresh.dbapi_connection.isolation_level  # type: ignore[union-attr]
        finally:
            await engine.dispose()

    assert asyncio.run(given_back()) == "repeatable_read"


STATEMENTS_WHOLE = """
import asyncio
import pytest
from sqlalchemy import func, select, text

from tbapp.models import Item

pytestmark = pytest.mark.anyio


async def test_requests_whose_sessions_never_wait_mid_transaction(client, db_session):
    # each request's session opens, writes and commits between two of the test loop's turns:
    # its driver calls run whole, so the requests do not interleave on the test's connection
    responses = await asyncio.gather(
        *(client.post("/items", json={"name": f"n{i}"}) for i in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert await db_session.scalar(select(func.count(Item.id))) == 10


def sleeping(db_session, seconds):
    postgresql = db_session.bind.dialect.name == "postgresql"
    return text(f"SELECT pg_sleep({seconds})" if postgresql else f"SELECT SLEEP({seconds})")


async def test_a_timeout_still_cancels_a_slow_query(db_session):
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(db_session.execute(sleeping(db_session, 3)), 0.3)
    assert loop.time() - started < 2, "the test's loop waited for the query"
    await db_session.rollback()


async def test_meanwhile_the_test_loop_goes_on(db_session):
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await db_session.execute(sleeping(db_session, 0.5))
    ticker.cancel()
    assert ticks >= 10, f"the test's loop stood still during a slow query ({ticks} ticks)"


async def test_nothing_is_left(db_session):
    assert await db_session.scalar(select(func.count(Item.id))) == 0
"""


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_server_drivers_run_each_call_whole_but_not_a_slow_one(
    pytester: pytest.Pytester, server: str
) -> None:
    """On a server database the plugin runs a driver call on the test's thread until it is done
    (bridge.LoopThread): concurrent requests that never wait inside a transaction no longer
    interleave on the test's connection. A slow call is handed to the loop's thread, so the
    test's loop goes on and a timeout cancels it."""
    project = Project(pytester, SERVERS[server])
    build(project, STATEMENTS_WHOLE)
    result = project.run()
    result.assert_outcomes(passed=4)


TRUNCATE = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio



@pytest.mark.testbed(isolation="truncate")
async def test_1_real_commit_seen_by_another_connection(client, testbed):
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    async with testbed.engine.connect() as other:
        assert (await other.execute(text("SELECT name FROM items"))).scalars().all() == ["a"]


async def test_2_emptied_after_truncate_test(client):
    assert (await client.get("/items")).json() == []


@pytest.mark.testbed(isolation="bogus")
async def test_3_bad_marker(client):
    pass
"""


def test_truncate_isolation_commits_then_empties(project: Project) -> None:
    project.write(TRUNCATE)
    result = project.run()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.testbed got isolation='bogus'; expected*"])
