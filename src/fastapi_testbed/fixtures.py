"""The fixtures users request. Each is a thin layer over a plain context manager."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from fastapi_testbed.config import SETTINGS_KEY, Settings
from fastapi_testbed.errors import (
    BAD_MARKER,
    DB_ACCESS_NOT_ALLOWED,
    NO_CONFIG,
    SEED_FAILED,
    SETTINGS_NOT_CONFIGURED,
    SYNC_SESSION_IN_SYNC_TEST,
    TestbedError,
)

if TYPE_CHECKING:  # imported when a hook or fixture runs: the plugin loads without SQLAlchemy
    from fastapi_testbed.testbed import Runtime, Testbed

__all__ = [
    "RUNTIME_KEY",
    "SCOPE_KEY",
    "TRANSPORT_KEY",
    "client",
    "db_access_refusal",
    "db_connection",
    "db_session",
    "failing_clearly",
    "settings",
    "sync_client",
    "testbed",
    "testbed_data",
    "testbed_settings",
]

ENVIRONMENT_KEY = pytest.StashKey[Any]()
RUNTIME_KEY = pytest.StashKey["Runtime"]()
SCOPE_KEY = pytest.StashKey[Any]()
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
def _testbed_runtime(testbed_settings: Settings, pytestconfig: pytest.Config) -> Runtime:
    """Internal: the app imported, its main test database created (once per xdist worker)."""
    runtime = pytestconfig.stash[RUNTIME_KEY]
    with failing_clearly():
        runtime.start()
    return runtime


def isolation_of(item: pytest.Item, *, strict: bool = True) -> str:
    """The isolation a test asked for with @pytest.mark.testbed (a bad marker fails it)."""
    marker = item.get_closest_marker("testbed")
    if marker is None:
        return "transaction"
    from fastapi_testbed.testbed import ISOLATIONS

    isolation = marker.kwargs.get("isolation", "transaction")
    if marker.args or set(marker.kwargs) - {"isolation"} or isolation not in ISOLATIONS:
        if not strict:
            return "transaction"  # the testbed fixture reports it
        found = ", ".join(
            [*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())]
        )
        pytest.fail(BAD_MARKER.format(found=found or "nothing"), pytrace=False)
    return str(isolation)


def db_access_refusal(item: pytest.Item, settings: Settings) -> str | None:
    """With db_access = "explicit": why a test that did not ask may not reach the database."""
    if settings.db_access != "explicit":
        return None
    if "testbed" in getattr(item, "fixturenames", ()) or item.get_closest_marker("testbed"):
        return None
    return DB_ACCESS_NOT_ALLOWED.format(test=item.nodeid, url="{url}", path=settings.pyproject)


def session_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    """A session-scoped fixture's value, for a function-scoped fixture.

    Not as an argument: pytest would then keep, on the session fixture, a finalizer holding
    each test's request (and through it the test's fixture records) until the session ends
    (pytest-dev/pytest#2981): memory that grows with every test.
    """
    return request.getfixturevalue(name)


@pytest.fixture
def testbed(request: pytest.FixtureRequest) -> Iterator[Testbed]:
    """The app, the test database and this test's isolation (see :class:`Testbed`)."""
    from fastapi_testbed.testbed import Testbed

    isolation_of(request.node)
    runtime: Runtime = session_fixture(request, "_testbed_runtime")
    scope = request.node.stash[SCOPE_KEY]
    scope.refusal = None  # asked for, perhaps late (request.getfixturevalue("db_session"))
    bed = Testbed(runtime, scope)
    with failing_clearly():
        bed.__enter__()
    try:
        yield bed
    finally:
        bed.__exit__(None, None, None)


@pytest.fixture
def db_connection(testbed: Testbed) -> Any:
    """A connection of the main engine, inside the test's transaction (real under truncate)."""
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
def client(testbed: Testbed, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An httpx2.AsyncClient for the app, with the app's lifespan run; `[tool.testbed]` base_url
    (default http://test) and headers apply. `client.with_headers({...})` makes another client of
    the same app and lifespan (a second user).

    Example::

        @pytest.mark.anyio
        async def test_list(client):
            assert (await client.get("/api/profiles")).status_code == 200
    """
    from fastapi_testbed.client import make_async_client

    with failing_clearly():
        app = testbed.app
    settings = testbed.settings
    http, transport = make_async_client(
        app,
        base_url=settings.base_url,
        after_request=testbed.after_request_async,
        headers=settings.headers,
    )
    request.node.stash[TRANSPORT_KEY] = transport
    try:
        yield http
    finally:
        # pytest keeps every item (and its stash) to the end of the session
        del request.node.stash[TRANSPORT_KEY]


@pytest.fixture
def sync_client(testbed: Testbed) -> Iterator[Any]:
    """Starlette's TestClient for the app, lifespan run; works in def and async def tests.

    `[tool.testbed]` base_url (default http://testserver) and headers apply;
    `sync_client.with_headers({...})` makes another client on the same lifespan.
    """
    from fastapi_testbed.client import make_sync_client

    with failing_clearly():
        app = testbed.app
    settings = testbed.settings
    http = make_sync_client(
        app,
        base_url=settings.base_url,
        after_request=testbed.after_request,
        headers=settings.headers,
    )
    with http:
        yield http


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The app's settings object for this test: set its fields, they are put back after.

    `[tool.testbed] settings` names it (`"myapp.config:get_settings"`, whose lru_cache is
    cleared before and after, or `"myapp.config:settings"`). Example::

        def test_signup_closed(sync_client, settings):
            settings.signup_open = False
            assert sync_client.post("/signup", json={...}).status_code == 403
    """
    from fastapi_testbed.app_settings import SettingsOverride
    from fastapi_testbed.importing import import_string, split_path

    testbed_settings: Settings = session_fixture(request, "testbed_settings")
    path = testbed_settings.app_settings
    if not path:
        pytest.fail(SETTINGS_NOT_CONFIGURED.format(path=testbed_settings.pyproject), pytrace=False)
    runtime = request.config.stash[RUNTIME_KEY]
    module, attribute, _ = split_path(path, "settings")
    with failing_clearly():
        if testbed_settings.app:
            _ = runtime.app  # the app's modules first: their references to the settings count
        target = import_string(
            f"{module}:{attribute}",
            key="settings",
            where=testbed_settings.pyproject,
            root=testbed_settings.root,
        )
    with SettingsOverride(target, root=testbed_settings.root, source=path) as override:
        yield override


@pytest.fixture(scope="session")
def testbed_data(_testbed_runtime: Runtime) -> Any:
    """For fixtures wider than a test: rows they write are seen by every test of their scope
    and removed when it ends (see :class:`~fastapi_testbed.scoped.TestbedData`).

    Example::

        @pytest.fixture(scope="module")
        def admin(testbed_data):
            with testbed_data.session() as session:   # committed when the block ends
                session.add(user := User(email="admin@example.com"))
            return user
    """
    from fastapi_testbed.scoped import TestbedData

    return TestbedData(_testbed_runtime)


@pytest.fixture(scope="session", autouse=True)
def _testbed_seed(request: pytest.FixtureRequest) -> None:
    """Internal: [tool.testbed] seed, called once; its rows are in every test, truncate's too."""
    settings = request.config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.seed:
        return
    from fastapi_testbed.importing import import_string
    from fastapi_testbed.scoped import run_seed

    runtime = request.getfixturevalue("_testbed_runtime")
    with failing_clearly():
        seed = import_string(
            settings.seed, key="seed", where=settings.pyproject, root=settings.root
        )
    message = None
    try:
        run_seed(runtime, seed)
    except Exception as exc:
        import traceback

        frames = traceback.extract_tb(exc.__traceback__)
        where = next(
            (
                f"{f.filename}:{f.lineno}"
                for f in reversed(frames)
                if "fastapi_testbed" not in f.filename
            ),
            "unknown",
        )
        lines = str(exc).strip().splitlines()
        message = SEED_FAILED.format(
            value=settings.seed,
            path=settings.pyproject,
            kind=type(exc).__name__,
            error=lines[0] if lines else "",
            where=where,
        )
    if message is not None:
        pytest.fail(message, pytrace=False)
