"""The pytest plugin: options, hooks and fixture registration. The work lives in other modules."""

from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Any

import pytest

from fastapi_testbed.client import tasks_left_behind_cancelled
from fastapi_testbed.config import SETTINGS_KEY, resolve_settings
from fastapi_testbed.errors import TestbedError
from fastapi_testbed.fixtures import (
    ENVIRONMENT_KEY,
    TRANSPORT_KEY,
    _testbed_runtime,
    client,
    db_connection,
    db_session,
    sync_client,
    testbed,
    testbed_settings,
)
from fastapi_testbed.urls import render

__all__ = [
    "_testbed_runtime",
    "client",
    "db_connection",
    "db_session",
    "sync_client",
    "testbed",
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
            settings, worker=os.environ.get("PYTEST_XDIST_WORKER"), cache_dir=cache_dir
        )
    except TestbedError as exc:
        raise pytest.UsageError(str(exc)) from exc
    early_config.stash[SETTINGS_KEY] = settings
    early_config.stash[ENVIRONMENT_KEY] = environment
    early_config.hook.pytest_testbed_environment(
        config=early_config, settings=settings, environment=environment
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'testbed(isolation="transaction"|"truncate"): how fastapi-testbed isolates the test; '
        '"truncate" gives real commits and empties the tables afterwards.',
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    environment = config.stash.get(ENVIRONMENT_KEY, None)
    if environment is not None:
        environment.restore()


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return []
    environment = config.stash[ENVIRONMENT_KEY]
    schema = (
        f"metadata {settings.metadata}" if settings.metadata else f"alembic {settings.alembic_ini}"
    )
    where = f"[tool.testbed] in {settings.pyproject}"
    reuse = "reuse" if settings.reuse_db else "create and drop"
    sessions = (
        f"sessionmakers {', '.join(settings.sessionmakers)}"
        if settings.sessionmakers
        else f"dependency {settings.dependency}"
        if settings.dependency
        else "the plugin's own sessions"
    )
    return [
        f"testbed: app {settings.app} (from {where})",
        f"testbed: database {render(environment.url)} "
        f"(from {settings.source('database_url')}; {reuse}, "
        f"{'async' if environment.is_async else 'sync'} driver)",
        f"testbed: schema by {schema}; sessions from {sessions}",
    ]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and "testbed" in item.fixturenames
            and inspect.iscoroutinefunction(getattr(item, "obj", None))
        ):
            item.obj = _around_async_test(item, item.obj)


def _around_async_test(item: pytest.Function, function: Any) -> Any:
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
