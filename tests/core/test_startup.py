"""Start-up: loading the plugins imports only what the session will use.

pytest loads both plugins in every run of an environment they are installed in, with or without
a [tool.testbed] table. What they import then is paid before the first test; the fakes' extras
(moto, boto3, aiosmtpd, respx...) only by the tests that use those fakes, SQLAlchemy only by a
project that has the table, httpx and asgi-lifespan only by a session that makes a client.
Checked in fresh processes: this one has imported all of them already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import Project, build

# Neither plugin needs these to load; each is imported by what uses it (the user's stack too).
HEAVY = (
    "fastapi",
    "starlette.testclient",
    "asyncpg",
    "alembic",
    "sqlalchemy",
    "httpx",
    "httpx2",
    "asgi_lifespan",
    "moto",
    "boto3",
    "botocore",
    "aiosmtpd",
    "respx",
    "polyfactory",
    "factory",
    "fastapi_testbed.fakes.mail",
    "fastapi_testbed.fakes.s3",
    "fastapi_testbed.fakes.http",
    "fastapi_testbed.testbed",
)

# Only these plugins: other installed ones (pytest-sqla, respx's) import SQLAlchemy or httpx.
ONLY_OURS = ("-p", "fastapi_testbed.plugin", "-p", "fastapi_testbed.fakes.plugin")


def test_loading_the_plugins_imports_no_database_http_or_fake_library() -> None:
    code = (
        "import sys, fastapi_testbed.plugin, fastapi_testbed.fakes.plugin; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_the_public_api_imports_its_parts_on_first_use() -> None:
    code = (
        "import sys; from fastapi_testbed import TestbedError, Settings; "
        "before = 'sqlalchemy' in sys.modules; "
        "from fastapi_testbed import Testbed, assert_database_has; "
        "print(before, 'sqlalchemy' in sys.modules, Testbed.__module__)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "True", "fastapi_testbed.testbed"]


NOTHING_IMPORTED = f"""
import sys

HEAVY = {HEAVY!r}


def test_a_plain_test():
    assert 1 + 1 == 2


def test_nothing_heavy_was_imported():
    assert sorted(m for m in HEAVY if m in sys.modules) == []
"""


def test_a_project_without_a_table_imports_no_sqlalchemy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
    pytester.makepyfile(test_plain=NOTHING_IMPORTED)
    result = pytester.runpytest_subprocess(*ONLY_OURS)
    result.assert_outcomes(passed=2)


DB_SESSION_ONLY = """
import sys

from sqlalchemy import text


def test_db_session(db_session):
    assert db_session.execute(text("select 1")).scalar_one() == 1


def test_no_http_client_was_imported():
    assert [m for m in ("httpx", "httpx2", "asgi_lifespan") if m in sys.modules] == []
"""


def test_a_session_without_a_client_imports_no_http_client(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    build(sqlite_project, DB_SESSION_ONLY, flavour="sync")
    result = sqlite_project.run(*ONLY_OURS, subprocess=True)
    result.assert_outcomes(passed=2)


EMPTY_TEST_FIXTURES = """
def test_empty(request):
    manager = request._fixturemanager
    ours = []
    for name in request.fixturenames:
        definitions = manager.getfixturedefs(name, request.node) or ()
        for definition in definitions[-1:]:
            module = getattr(definition.func, "__module__", "") or ""
            if module.startswith("fastapi_testbed") and definition.scope == "function":
                ours.append(name)
    assert ours == ["_testbed_fakes"]
"""


def test_an_empty_test_sets_up_one_function_fixture_of_the_plugins(
    sqlite_project: Project,
) -> None:
    # pytest's setup of a function fixture costs about what a statement on a local server does,
    # and every test pays for the autouse ones: the fakes share one
    build(sqlite_project, EMPTY_TEST_FIXTURES, flavour="sync")
    sqlite_project.run().assert_outcomes(passed=1)
