"""The fixtures users request. Each is a thin layer over a plain context manager."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from fastapi_testbed.config import SETTINGS_KEY, Settings
from fastapi_testbed.errors import BAD_MARKER, NO_CONFIG, SYNC_SESSION_IN_SYNC_TEST, TestbedError
from fastapi_testbed.testbed import ISOLATIONS, Runtime, Testbed

__all__ = [
    "TRANSPORT_KEY",
    "client",
    "db_connection",
    "db_session",
    "failing_clearly",
    "sync_client",
    "testbed",
    "testbed_settings",
]

ENVIRONMENT_KEY = pytest.StashKey[Any]()
TRANSPORT_KEY = pytest.StashKey[Any]()


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Turn a TestbedError into a test failure that shows only its message."""
    message = None
    try:
        yield
    except TestbedError as exc:
        message = str(exc)
    if message is not None:  # outside the except block: no "during handling" chain in the report
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def testbed_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved [tool.testbed] settings of this session."""
    settings = pytestconfig.stash.get(SETTINGS_KEY, None)
    if settings is None:
        searched = f"{pytestconfig.rootpath} and its parents' pyproject.toml"
        pytest.fail(NO_CONFIG.format(searched=searched), pytrace=False)
    return settings


@pytest.fixture(scope="session")
def _testbed_runtime(testbed_settings: Settings, pytestconfig: pytest.Config) -> Iterator[Runtime]:
    """Internal: the test database, created once per session (per xdist worker)."""
    environment = pytestconfig.stash[ENVIRONMENT_KEY]
    runtime = Runtime(
        testbed_settings,
        url=environment.url,
        is_async=environment.is_async,
        app_urls=environment.app_urls,
    )
    with failing_clearly():
        runtime.__enter__()
    try:
        yield runtime
    finally:
        runtime.__exit__(None, None, None)


def _isolation(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("testbed")
    if marker is None:
        return "transaction"
    isolation = marker.kwargs.get("isolation", "transaction")
    if marker.args or set(marker.kwargs) - {"isolation"} or isolation not in ISOLATIONS:
        found = ", ".join(
            [*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())]
        )
        pytest.fail(BAD_MARKER.format(found=found or "nothing"), pytrace=False)
    return str(isolation)


@pytest.fixture
def testbed(_testbed_runtime: Runtime, request: pytest.FixtureRequest) -> Iterator[Testbed]:
    """The app, the test database and this test's isolation (see :class:`Testbed`)."""
    bed = Testbed(_testbed_runtime, isolation=_isolation(request))
    with failing_clearly():
        bed.__enter__()
    try:
        yield bed
    finally:
        bed.__exit__(None, None, None)


@pytest.fixture
def db_connection(testbed: Testbed) -> Any:
    """The test's connection, inside its transaction (None under isolation="truncate")."""
    return testbed.connection


@pytest.fixture
def db_session(testbed: Testbed, request: pytest.FixtureRequest) -> Any:
    """A session made by the app's own sessionmaker, inside the test's isolation.

    Example::

        async def test_note(db_session):
            db_session.add(Note(title="a"))
            await db_session.commit()   # a savepoint: rolled back when the test ends
    """
    function = getattr(request.node, "function", None)
    if (
        testbed.is_async
        and function is not None
        and not inspect.iscoroutinefunction(function)
        and "db_session" in request.node._fixtureinfo.argnames  # asked by the test itself
    ):
        pytest.fail(SYNC_SESSION_IN_SYNC_TEST.format(what="db_session"), pytrace=False)
    with failing_clearly():
        return testbed.session()


@pytest.fixture
def client(testbed: Testbed, request: pytest.FixtureRequest) -> Iterator[httpx.AsyncClient]:
    """An httpx.AsyncClient for the app (base_url http://test), with the app's lifespan run.

    Example::

        @pytest.mark.anyio
        async def test_list(client):
            assert (await client.get("/api/profiles")).status_code == 200
    """
    from fastapi_testbed.client import make_async_client

    with failing_clearly():
        app = testbed.app
    http, transport = make_async_client(app)
    request.node.stash[TRANSPORT_KEY] = transport
    yield http


@pytest.fixture
def sync_client(testbed: Testbed) -> Iterator[Any]:
    """Starlette's TestClient for the app, lifespan run; works in def and async def tests."""
    with warnings.catch_warnings():
        # Starlette 1.x nudges towards httpx2 but supports httpx, which the rest of the plugin uses.
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

    with failing_clearly():
        app = testbed.app
    with TestClient(app) as http:
        yield http
