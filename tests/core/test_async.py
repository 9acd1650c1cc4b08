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


ONE_LOOP = """
import asyncio

import pytest

pytestmark = pytest.mark.anyio
LOOPS = []


async def test_1(client, testbed):
    LOOPS.append(asyncio.get_running_loop())
    assert (await client.post("/items", json={{"name": "a"}})).status_code == 201


async def test_2(client, testbed):
    LOOPS.append(asyncio.get_running_loop())
    assert (await client.get("/items")).json() == []


async def test_3_no_fixture_at_all():
    LOOPS.append(asyncio.get_running_loop())


@pytest.mark.anyio(False)
def test_4_which_loops():
    assert len(LOOPS) == 3
    {check}
"""

ONE_LOOP_CONFTEST = """
@pytest.fixture(scope="{scope}")
def anyio_backend():
    return "asyncio"
"""


@pytest.mark.parametrize(
    ("scope", "check"),
    [
        ("session", "assert LOOPS[0] is LOOPS[1] is LOOPS[2] and not LOOPS[0].is_closed()"),
        ("module", "assert LOOPS[0] is LOOPS[1] is LOOPS[2] and not LOOPS[0].is_closed()"),
        ("function", "assert len(set(map(id, LOOPS))) == 3 and all(l.is_closed() for l in LOOPS)"),
    ],
    ids=["session", "module", "function"],
)
@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_anyio_tests_share_one_loop_while_the_backend_fixture_lives(
    project: Project, scope: str, check: str, flavour: str
) -> None:
    """anyio closes its runner when no async fixture holds it, and the plugin's fixtures are
    sync: the plugin holds it as long as `anyio_backend` lives, as an async fixture of that
    scope would, instead of a new event loop for every test."""
    project.write(
        ONE_LOOP.format(check=check),
        conftest=ONE_LOOP_CONFTEST.format(scope=scope),
        flavour=flavour,
    )
    result = project.run("-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=4)


OTHER_BACKEND = """
import asyncio

import pytest

pytestmark = pytest.mark.anyio


async def test_{name}(client, db_session):
    assert asyncio.get_running_loop().get_debug() is {debug}
    assert (await client.post("/items", json={{"name": "{name}"}})).status_code == 201
"""


def test_a_module_with_another_anyio_backend_gets_its_own_runner(
    sqlite_or_pg_project: Project,
) -> None:
    """A module overriding a session-wide `anyio_backend` must not run on the runner the
    plugin kept for the session's backend (anyio hands out whichever runner is open)."""
    sqlite_or_pg_project.write(
        OTHER_BACKEND.format(name="a", debug=False),
        conftest=ONE_LOOP_CONFTEST.format(scope="session"),
    )
    sqlite_or_pg_project.pytester.makepyfile(
        test_b=OTHER_BACKEND.format(name="b", debug=True)
        + '\n\n@pytest.fixture(scope="module")\ndef anyio_backend():\n'
        '    return ("asyncio", {"debug": True})\n',
        test_c=OTHER_BACKEND.format(name="c", debug=False),
    )
    result = sqlite_or_pg_project.run("-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=3)


MIXED_RUNNERS = """
import asyncio

import pytest
from sqlalchemy import func, select
from tbapp.models import Item

LOOPS = []


@pytest.mark.anyio
async def test_1_anyio(client, db_session):
    LOOPS.append(asyncio.get_running_loop())
    assert (await client.post("/items", json={"name": "a"})).status_code == 201


@pytest.mark.asyncio
async def test_2_pytest_asyncio(client, db_session):
    assert asyncio.get_running_loop() is not LOOPS[0]
    assert (await client.post("/items", json={"name": "a"})).status_code == 201


@pytest.mark.anyio
async def test_3_anyio_again(client, db_session):
    assert asyncio.get_running_loop() is LOOPS[0]
    assert await db_session.scalar(select(func.count(Item.id))) == 0
"""


def test_the_kept_anyio_runner_beside_pytest_asyncio(sqlite_or_pg_project: Project) -> None:
    """pytest-asyncio opens and closes its own loops while anyio's kept one waits, unused."""
    sqlite_or_pg_project.write(
        MIXED_RUNNERS,
        conftest=ONE_LOOP_CONFTEST.format(scope="session"),
        ini='asyncio_mode = "strict"',
    )
    result = sqlite_or_pg_project.run("-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=3)
    assert "Event loop is closed" not in result.stdout.str()
