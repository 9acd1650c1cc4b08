"""The pytest plugin: options, hooks and fixture registration. The work lives in other modules."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Any

import pytest

from fastapi_testbed import stopping
from fastapi_testbed.config import SETTINGS_KEY, describe_suite, resolve_settings
from fastapi_testbed.errors import RUN_STOPPED, TestbedError
from fastapi_testbed.fixtures import (
    ENVIRONMENT_KEY,
    RUNTIME_KEY,
    SCOPE_KEY,
    TRANSPORT_KEY,
    _testbed_runtime,
    _testbed_seed,
    client,
    db_access_refusal,
    db_connection,
    db_session,
    isolation_of,
    settings,
    sync_client,
    testbed,
    testbed_data,
    testbed_settings,
)
from fastapi_testbed.runners import AnyioRunnerKept

# Loading the plugin imports no SQLAlchemy, httpx or asgi-lifespan: a project without a
# [tool.testbed] table never pays for them, and one with it imports them when the hooks run.

STOP_KEY = pytest.StashKey[str]()  # a test's: the message of the error that stops the run
ANYIO_RUNNER_KEY = pytest.StashKey[AnyioRunnerKept]()

__all__ = [
    "_testbed_runtime",
    "_testbed_seed",
    "client",
    "db_connection",
    "db_session",
    "settings",
    "sync_client",
    "testbed",
    "testbed_data",
    "testbed_settings",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from fastapi_testbed import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "fastapi-testbed")
    group.addoption(
        "--testbed-db-url",
        dest="testbed_db_url",
        default=None,
        help="database server for the tests, e.g. postgresql://postgres@127.0.0.1:5432/ "
        "(env TESTBED_DATABASE_URL; default: a SQLite file)",
    )
    group.addoption(
        "--reuse-db",
        action="store_true",
        dest="testbed_reuse_db",
        default=False,
        help="keep the test database between runs (env TESTBED_REUSE_DB=1)",
    )
    group.addoption(
        "--create-db",
        action="store_true",
        dest="testbed_create_db",
        default=False,
        help="re-create the test database even with --reuse-db",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # Runs before any conftest is imported: the app must find its test settings in os.environ.
    options = early_config.known_args_namespace
    from fastapi_testbed.environment import inherit_original_environment

    inherit_original_environment()  # an xdist worker reads the app's settings, not our exports
    try:
        settings = resolve_settings(
            rootpath=early_config.rootpath,
            inipath=early_config.inipath,
            cli_db_url=getattr(options, "testbed_db_url", None),
            cli_reuse_db=getattr(options, "testbed_reuse_db", False),
            cli_create_db=getattr(options, "testbed_create_db", False),
        )
        if settings is None:
            return
        from fastapi_testbed.environment import prepare_environment

        root = str(settings.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        cache_dir = early_config.rootpath / ".pytest_cache" / "testbed"
        environment = prepare_environment(
            settings,
            worker=os.environ.get("PYTEST_XDIST_WORKER"),
            cache_dir=cache_dir,
            claim=not getattr(options, "collectonly", False),  # --co reaches no server
        )
    except TestbedError as exc:
        raise pytest.UsageError(str(exc)) from None
    from fastapi_testbed.testbed import Runtime

    runtime = Runtime(
        settings,
        urls=environment.urls,
        url=environment.url,
        is_async=environment.is_async,
        app_urls=environment.app_urls,
        ownership=environment.ownership,
    )
    runtime.report = functools.partial(_report, early_config)
    runtime.binder.__enter__()  # from now on, every engine created is a test engine
    early_config.stash[SETTINGS_KEY] = settings
    early_config.stash[ENVIRONMENT_KEY] = environment
    early_config.stash[RUNTIME_KEY] = runtime
    early_config.hook.pytest_testbed_environment(
        config=early_config, settings=settings, environment=environment
    )


def _report(config: pytest.Config, line: str) -> None:
    """One line about the test database (rebuilt, emptied, reused), in the run's output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        sys.stderr.write(line + "\n")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'testbed(isolation="transaction"|"truncate"): how fastapi-testbed isolates the test; '
        '"truncate" gives real commits and empties the tables afterwards.',
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    runtime = config.stash.get(RUNTIME_KEY, None)
    environment = config.stash.get(ENVIRONMENT_KEY, None)
    kept = config.stash.get(ANYIO_RUNNER_KEY, None)
    if kept is not None:
        kept.release()  # anyio_backend fixtures end with the session: a safety net
    try:
        if runtime is not None:
            runtime.binder.__exit__(None, None, None)
            runtime.close()
    finally:
        if environment is not None:
            environment.restore()


# --- bad input: one message and exit code 4 (see stopping.py) ----------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # The app is imported before the header is printed and before any test module imports it.
    runtime = session.config.stash.get(RUNTIME_KEY, None)
    if runtime is None or stopping.is_controller(session.config):
        return
    message = stopping.failure_of(runtime.load, runtime.settings)
    if message is not None:
        stopping.stop(session, message, collected=False)


def pytest_ignore_collect(config: pytest.Config) -> bool | None:
    # An xdist worker whose app failed to import collects nothing: no tracebacks of modules
    # importing it, and the controller prints the message once.
    return True if stopping.failure(config) is not None else None


def pytest_collection_finish(session: pytest.Session) -> None:
    message = stopping.failure(session.config)
    if message is not None:
        stopping.stop(session, message)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> bool | None:
    # The main test database is built before the first test that needs it, outside that test.
    runtime = item.config.stash.get(RUNTIME_KEY, None)
    if runtime is None:
        return None
    message = stopping.failure(item.config)
    needs = getattr(item, "fixturenames", ())  # testbed asks for the runtime when it runs
    if message is None and ("testbed" in needs or "_testbed_runtime" in needs):
        message = stopping.failure_of(runtime.start, runtime.settings)
    if message is None:
        return None
    stopping.stop(item.session, message)
    return True  # not run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # A test database built inside the test (an engine the app made late) failed: the test
    # shows one line, the message comes once when the run stops after it.
    report = yield
    if call.excinfo is not None and item.config.stash.get(RUNTIME_KEY, None) is not None:
        error = stopping.stopping_error(call.excinfo.value)
        if error is not None:
            item.stash[STOP_KEY] = str(error)
            report.longrepr = RUN_STOPPED
    return report


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_protocol")
def pytest_runtest_protocol_then_stop(item: pytest.Item) -> Any:  # pytest needs the prefix
    result = yield
    message = item.stash.get(STOP_KEY, None)
    if message is not None and stopping.failure(item.config) is None:
        stopping.stop(item.session, message)
    return result


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    stopping.worker_stopped(node)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if stopping.is_controller(session.config):
        stopping.finish(session)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    # Before any fixture: every connection the test's engines hand out is inside its scope.
    runtime = item.config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        scope = runtime.binder.scope(isolation_of(item, strict=False))
        scope.refusal = db_access_refusal(item, runtime.settings)
        item.stash[SCOPE_KEY] = scope
        scope.__enter__()
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    try:
        return (yield)
    finally:
        scope = item.stash.get(SCOPE_KEY, None)
        if scope is not None:
            del item.stash[SCOPE_KEY]
            scope.__exit__(None, None, None)  # after every fixture: the rollback


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return []
    from fastapi_testbed.urls import render

    runtime = config.stash[RUNTIME_KEY]
    where = f"[tool.testbed] in {settings.pyproject}"
    schema = ", ".join(
        part
        for part in (
            f"alembic {settings.alembic_ini}" if settings.alembic_ini else "",
            f"metadata {settings.metadata}" if settings.metadata else "",
        )
        if part
    )
    server = (
        f"{render(runtime.binder.urls.server)} (from {settings.source('database_url')})"
        if runtime.binder.urls.server is not None
        else "each engine's own server (SQLite files in a temporary folder)"
    )
    reuse = "reuse" if settings.reuse_db else "create and drop"
    if settings.xdist_template:
        reuse += "; under xdist, the schema built once and copied (xdist_template)"
    sessions = (
        f"sessionmakers {', '.join(settings.sessionmakers)}"
        if settings.sessionmakers
        else f"dependency {settings.dependency}"
        if settings.dependency
        else "the app's own engines"
    )
    lines = [
        f"testbed: app {settings.app} (from {where})",
        f"testbed: test databases on {server}; {reuse}",
        f"testbed: schema by {schema or 'nothing'}; sessions from {sessions}",
        *describe_suite(settings),
    ]
    for bound in runtime.binder.live_engines():
        kind = "async" if bound.is_async else "sync"
        lines.append(
            f"testbed: engine {render(bound.app_url)} ({kind}, {bound.origin}) "
            f"-> {render(bound.test_url)}"
        )
    return lines


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and "testbed" in item.fixturenames
            and inspect.iscoroutinefunction(getattr(item, "obj", None))
        ):
            item.obj = _around_async_test(item, item.obj)


def _around_async_test(item: pytest.Function, function: Any) -> Any:
    from fastapi_testbed.tasks import tasks_left_behind_cancelled

    # Runs in the test's own task on the test's loop, whichever plugin drives it.
    @functools.wraps(function)
    async def run_test(*args: Any, **kwargs: Any) -> Any:
        transport = item.stash.get(TRANSPORT_KEY, None)
        async with tasks_left_behind_cancelled():
            if transport is not None:
                await transport.start()  # the lifespan starts before the body, if no fixture did
            try:
                return await function(*args, **kwargs)
            finally:
                if transport is not None:
                    await transport.stop()  # shutdown in this task, before the loop goes away

    return run_test


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    runtime = request.config.stash.get(RUNTIME_KEY, None)
    if runtime is not None and fixturedef.argname == "anyio_backend":
        # anyio's runner (one event loop) kept while the backend's fixture lives: runners.py
        backend = yield
        kept = request.config.stash.setdefault(ANYIO_RUNNER_KEY, AnyioRunnerKept())
        lease = kept.hold(backend)
        if lease is not None:
            fixturedef.addfinalizer(functools.partial(kept.end, lease))
        return backend
    # A fixture wider than one test writes rows that outlive each test: committed, and taken
    # back out when the fixture ends (after its own teardown, hence registered first).
    if runtime is None or fixturedef.scope == "function":
        return (yield)
    level = runtime.binder.level(fixturedef.argname)
    fixturedef.addfinalizer(level.end)
    with level:
        return (yield)
