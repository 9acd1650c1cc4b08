"""Every async runner and loop scope, and the sync client from def and async def tests."""

from __future__ import annotations

import pytest

from tests.conftest import Project

BODY = """
from sqlalchemy import func, select
from tbapp.models import Item


{marker}
async def test_1(client, db_session):
    assert (await client.post("/items", json={{"name": "a"}})).status_code == 201
    assert await db_session.scalar(select(func.count(Item.id))) == 1
    assert (await client.get("/state")).json()["ready"] is True


{marker}
async def test_2(client, db_session):
    assert (await client.get("/items")).json() == []
    assert await db_session.scalar(select(func.count(Item.id))) == 0
"""


@pytest.mark.parametrize(
    ("marker", "ini"),
    [
        ("@__import__('pytest').mark.anyio", ""),
        ("@__import__('pytest').mark.asyncio", 'asyncio_mode = "strict"'),
        ("", 'asyncio_mode = "auto"'),
        (
            "@__import__('pytest').mark.asyncio(loop_scope='session')",
            'asyncio_mode = "strict"',
        ),
        ("", 'asyncio_mode = "auto"\nasyncio_default_test_loop_scope = "session"'),
    ],
    ids=["anyio", "asyncio-strict", "asyncio-auto", "session-loop", "auto-session-loop"],
)
def test_async_runners_and_loop_scopes(
    sqlite_or_pg_project: Project, marker: str, ini: str
) -> None:
    tests = BODY.format(marker=marker)
    sqlite_or_pg_project.write(tests, ini=ini)
    result = sqlite_or_pg_project.run("-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=2)
    assert "attached to a different loop" not in result.stdout.str()
    assert "Event loop is closed" not in result.stdout.str()


LIFESPAN = """
import pytest
from tbapp.main import EVENTS

pytestmark = pytest.mark.anyio



@pytest.fixture
async def created(client):
    # a request from an async fixture starts the lifespan there, in the fixture's task
    return (await client.post("/items", json={"name": "from-fixture"})).json()


async def test_1_lifespan_runs_around_the_test(client, created):
    assert (await client.get("/state")).json() == {"ready": True, "events": ["startup"]}


def test_2_shutdown_ran():
    assert EVENTS == ["startup", "shutdown"]
"""


def test_lifespan_runs_around_each_test(sqlite_project: Project) -> None:
    sqlite_project.write(LIFESPAN)
    sqlite_project.run().assert_outcomes(passed=2)


SYNC_CLIENT = """
import pytest
from sqlalchemy import func, select
from tbapp.main import EVENTS
from tbapp.models import Item


def test_1_def_test(sync_client):
    assert sync_client.post("/items", json={"name": "a", "background": True}).status_code == 201
    assert sync_client.get("/items").json() == ["a", "bg-a"]
    assert sync_client.get("/state").json()["ready"] is True


def test_2_rolled_back(sync_client):
    assert sync_client.get("/items").json() == []


@pytest.mark.asyncio
async def test_3_seed_000_style(sync_client, db_session):
    # an async test, the synchronous TestClient, and the async session on the same transaction
    db_session.add(Item(name="mine"))
    await db_session.commit()
    assert sync_client.get("/items").json() == ["mine"]
    assert sync_client.post("/items", json={"name": "b"}).status_code == 201
    assert await db_session.scalar(select(func.count(Item.id))) == 2


def test_4_rolled_back_again(sync_client, testbed):
    assert sync_client.get("/items").json() == []
    assert (EVENTS.count("startup"), EVENTS.count("shutdown")) == (4, 3)


def test_5_db_session_needs_an_async_test(db_session):
    pass
"""


def test_sync_client_for_an_async_app(sqlite_or_pg_project: Project) -> None:
    sqlite_or_pg_project.write(SYNC_CLIENT)
    result = sqlite_or_pg_project.run()
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*db_session is an AsyncSession (the app is async)*"])
    assert "During handling of the above exception" not in result.stdout.str()  # one message


def test_testbed_run_awaits_from_sync_code(sqlite_or_pg_project: Project) -> None:
    sqlite_or_pg_project.write(
        """
        from sqlalchemy import func, select
        from tbapp.models import Item


        def test_run(testbed, sync_client):
            session = testbed.session()
            session.add(Item(name="x"))
            testbed.run(session.commit())
            assert sync_client.get("/items").json() == ["x"]
            assert testbed.run(session.scalar(select(func.count(Item.id)))) == 1
        """
    )
    sqlite_or_pg_project.run().assert_outcomes(passed=1)
