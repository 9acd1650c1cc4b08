"""What real suites need beyond one test: client settings, per-test app settings, database
access rules, data that outlives a test, and the patterns of hand-written conftests."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import Project, build

FLAVOURS = ["async", "sync"]


# --- 2. client settings ---------------------------------------------------------------------------
BEHIND_TRUSTED_HOST = """
import itertools
from contextlib import asynccontextmanager

from fastapi import Request
from starlette.middleware.trustedhost import TrustedHostMiddleware

STARTS = itertools.count(1)


@asynccontextmanager
async def counted(app):
    yield {"lifespan": next(STARTS)}  # lifespan state: every request of one lifespan sees it


app.router.lifespan_context = counted
app.add_middleware(TrustedHostMiddleware, allowed_hosts=["localhost"])


@app.get("/whoami")
def whoami(request: Request):
    return {
        "host": request.url.hostname,
        "key": request.headers.get("x-api-key"),
        "auth": request.headers.get("authorization"),
        "cookie": request.cookies.get("seen"),
        "lifespan": request.state.lifespan,
    }


@app.get("/see")
def see(request: Request):
    from fastapi.responses import JSONResponse

    response = JSONResponse({})
    response.set_cookie("seen", "yes")
    return response
"""

CLIENT_SETTINGS = """
import pytest

pytestmark = pytest.mark.anyio


async def test_async_client(client):
    response = await client.get("/whoami")
    assert response.status_code == 200, response.text
    assert response.json()["host"] == "localhost"
    assert response.json()["key"] == "k-1"


def test_sync_client(sync_client):
    response = sync_client.get("/whoami")
    assert response.status_code == 200, response.text
    assert response.json()["host"] == "localhost"
    assert response.json()["key"] == "k-1"
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_base_url_and_headers_apply_to_both_clients(sqlite_project: Project, flavour: str) -> None:
    build(
        sqlite_project,
        CLIENT_SETTINGS,
        flavour=flavour,
        routes=BEHIND_TRUSTED_HOST,
        extra='base_url = "http://localhost"\nheaders = { X-Api-Key = "k-1" }',
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_without_base_url_a_trusted_host_app_answers_400(sqlite_project: Project) -> None:
    # the failure the setting exists for: "test" and "testserver" are not allowed hosts
    build(sqlite_project, CLIENT_SETTINGS, routes=BEHIND_TRUSTED_HOST)
    result = sqlite_project.run()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*assert 400 == 200*"])


FURTHER_CLIENTS = """
import pytest

pytestmark = pytest.mark.anyio


async def test_async_client_for_another_user(client):
    await client.get("/see")  # the first client now holds a cookie
    bob = client.with_headers({"Authorization": "Bearer bob"})
    ada = client.with_headers({"Authorization": "Bearer ada"})
    mine, his, hers = [(await c.get("/whoami")).json() for c in (client, bob, ada)]
    assert (mine["auth"], his["auth"], hers["auth"]) == (None, "Bearer bob", "Bearer ada")
    assert his["key"] == hers["key"] == "k-1"  # the configured headers are kept
    assert his["host"] == "localhost"
    assert mine["cookie"] == "yes" and his["cookie"] is None  # cookies of its own
    assert mine["lifespan"] == his["lifespan"] == hers["lifespan"]  # one lifespan for all


def test_sync_client_for_another_user(sync_client):
    sync_client.get("/see")
    bob = sync_client.with_headers({"Authorization": "Bearer bob"})
    mine, his = sync_client.get("/whoami").json(), bob.get("/whoami").json()
    assert (mine["auth"], his["auth"]) == (None, "Bearer bob")
    assert his["key"] == "k-1" and his["host"] == "localhost"
    assert mine["cookie"] == "yes" and his["cookie"] is None
    assert mine["lifespan"] == his["lifespan"]
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_further_clients_share_the_app_and_its_lifespan(
    sqlite_project: Project, flavour: str
) -> None:
    build(
        sqlite_project,
        FURTHER_CLIENTS,
        flavour=flavour,
        routes=BEHIND_TRUSTED_HOST,
        extra='base_url = "http://localhost"\nheaders = { X-Api-Key = "k-1" }',
    )
    sqlite_project.run().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('base_url = "localhost"', "*base_url in * must be a URL such as *, found 'localhost'*"),
        ("headers = { X = 1 }", "*headers in * must be a table of strings, found {'X': 1}*"),
        ('network = "off"', '*network in * must be "deny" or "allow", found \'off\'*'),
        ('db_access = "strict"', '*db_access in * must be "implicit" or "explicit"*'),
        ('settings = "tbapp.config"', "*settings = 'tbapp.config' is not an import path*"),
        ('seed = "tbapp.seed"', "*seed = 'tbapp.seed' is not an import path*"),
    ],
)
def test_bad_suite_keys_are_usage_errors(sqlite_project: Project, extra: str, message: str) -> None:
    sqlite_project.write("def test_x():\n    pass\n", extra=extra)
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# --- 3. app settings per test ---------------------------------------------------------------------
APP_CONFIG = """
from functools import lru_cache

from pydantic_settings import BaseSettings


class AppSettings(BaseSettings):
    beta: bool = False
    greeting: str = "hello"


@lru_cache
def get_settings():
    return AppSettings()


settings = get_settings()  # a module-level reference, as many apps hold one
"""

SETTINGS_ROUTES = """
from fastapi import Depends

from tbapp import config


@app.get("/flags")
def flags(current: config.AppSettings = Depends(config.get_settings)):
    return {"beta": current.beta, "module": config.settings.beta, "greeting": current.greeting}
"""

SETTINGS_TESTS = """
import pytest

from tbapp.config import get_settings


def test_1_changed_for_one_test(sync_client, settings):
    settings.beta = True
    assert settings.beta is True
    assert sync_client.get("/flags").json() == {"beta": True, "module": True, "greeting": "hello"}


def test_2_restored(sync_client):
    assert sync_client.get("/flags").json() == {"beta": False, "module": False, "greeting": "hello"}


@pytest.fixture
def greeting_env(monkeypatch):
    monkeypatch.setenv("GREETING", "hi")


def test_3_cache_cleared_before(greeting_env, settings, sync_client):
    assert settings.greeting == "hi"  # built afresh from the environment the test prepared
    assert sync_client.get("/flags").json()["greeting"] == "hi"


def test_4_and_after(sync_client):
    assert get_settings().greeting == "hello"
    assert sync_client.get("/flags").json()["greeting"] == "hello"


def test_5_unknown_field(settings):
    settings.betta = True
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_settings_fixture_changes_fields_for_one_test(
    sqlite_project: Project, flavour: str
) -> None:
    build(
        sqlite_project,
        SETTINGS_TESTS,
        flavour=flavour,
        routes=SETTINGS_ROUTES,
        modules={"config": APP_CONFIG},
        extra='settings = "tbapp.config:get_settings"',
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the app's settings (AppSettings, from ?tool.testbed? settings = "
            "'tbapp.config:get_settings') have no field 'betta'; its fields: beta, greeting.*"
        ]
    )


OBJECT_SETTINGS_TESTS = """
def test_1_changed(sync_client, settings):
    settings.beta = True
    assert sync_client.get("/flags").json()["module"] is True


def test_2_restored(sync_client):
    assert sync_client.get("/flags").json()["module"] is False
"""


def test_settings_fixture_takes_the_object_itself(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        OBJECT_SETTINGS_TESTS,
        routes=SETTINGS_ROUTES,
        modules={"config": APP_CONFIG},
        extra='settings = "tbapp.config:settings"',
    )
    sqlite_project.run().assert_outcomes(passed=2)


FROZEN_CONFIG = """
import dataclasses
from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    beta: bool = False
    greeting: str = "hello"


@dataclasses.dataclass(frozen=True)
class Limits:
    per_page: int = 20


@lru_cache
def get_settings():
    return AppSettings()


settings = get_settings()
limits = Limits()
"""

FROZEN_TESTS = """
import pytest

from tbapp import config


def test_1_frozen_model_changed(sync_client, settings):
    settings.beta = True
    assert sync_client.get("/flags").json()["beta"] is True


def test_2_restored(sync_client):
    assert sync_client.get("/flags").json()["beta"] is False
"""


@pytest.mark.parametrize("target", ["tbapp.config:get_settings", "tbapp.config:limits"])
def test_settings_fixture_changes_frozen_objects(sqlite_project: Project, target: str) -> None:
    tests = FROZEN_TESTS
    if target.endswith("limits"):
        tests = tests.replace("settings.beta = True", "settings.per_page = 5")
        tests = tests.replace(
            'assert sync_client.get("/flags").json()["beta"] is True',
            "assert config.limits.per_page == 5",
        )
        tests = tests.replace(
            'assert sync_client.get("/flags").json()["beta"] is False',
            "assert config.limits.per_page == 20",
        )
    build(
        sqlite_project,
        tests,
        routes=SETTINGS_ROUTES,
        modules={"config": FROZEN_CONFIG},
        extra=f'settings = "{target}"',
    )
    sqlite_project.run().assert_outcomes(passed=2)


def test_settings_fixture_says_what_to_configure(sqlite_project: Project) -> None:
    build(sqlite_project, "def test_x(settings):\n    pass\n")
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the settings fixture needs the app's settings object*",
            '*settings = "myapp.config:get_settings"*',
        ]
    )


# --- 6. suites that already have a fixture named client -------------------------------------------
OWN_TESTCLIENT = """
from fastapi.testclient import TestClient

from tbapp.main import app


@pytest.fixture(scope="{scope}")
def client():
    with TestClient(app) as http:  # the suite's own client, kept as it was
        yield http
"""

SYNC_TESTS_ON_CLIENT = """
def test_1_writes(client):
    assert client.post("/items", json={"name": "a"}).status_code == 201
    assert client.get("/items").json() == ["a"]


def test_2_rolled_back(client):
    assert client.get("/items").json() == []
    assert client.post("/items", json={"name": "a"}).status_code == 201
"""


@pytest.mark.parametrize("scope", ["function", "session"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_suites_own_testclient_named_client_is_isolated(
    project: Project, flavour: str, scope: str
) -> None:
    build(
        project,
        SYNC_TESTS_ON_CLIENT,
        flavour=flavour,
        conftest=OWN_TESTCLIENT.replace("{scope}", scope),
    )
    project.run().assert_outcomes(passed=2)


KEEP_THE_NAME = """
@pytest.fixture
def client(sync_client):  # the plugin's TestClient under the suite's name
    return sync_client
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_keeping_the_name_client_for_sync_client(sqlite_project: Project, flavour: str) -> None:
    build(sqlite_project, SYNC_TESTS_ON_CLIENT, flavour=flavour, conftest=KEEP_THE_NAME)
    sqlite_project.run().assert_outcomes(passed=2)


ADDING_HEADERS = """
@pytest.fixture
def client(client):  # the plugin's client, and the header every request of the suite sends
    client.headers["X-Team"] = "blue"
    return client
"""

ASYNC_TESTS_ON_WRAPPED_CLIENT = """
import pytest

pytestmark = pytest.mark.anyio


async def test_1_writes(client):
    assert client.headers["X-Team"] == "blue"
    assert client.with_headers({"X-Other": "1"}).headers["X-Team"] == "blue"
    assert (await client.post("/items", json={"name": "a"})).status_code == 201


async def test_2_rolled_back(client):
    assert (await client.get("/items")).json() == []
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_client_fixture_that_wraps_the_plugins(sqlite_project: Project, flavour: str) -> None:
    build(sqlite_project, ASYNC_TESTS_ON_WRAPPED_CLIENT, flavour=flavour, conftest=ADDING_HEADERS)
    sqlite_project.run().assert_outcomes(passed=2)


# --- 4. database access rules ---------------------------------------------------------------------
SERVICES = {
    "async": """
from sqlalchemy import func, select

from tbapp.db import SessionLocal
from tbapp.models import Item


async def add_item(name):
    async with SessionLocal() as session:
        session.add(Item(name=name))
        await session.commit()


async def count_items():
    async with SessionLocal() as session:
        return await session.scalar(select(func.count(Item.id)))
""",
    "sync": """
from sqlalchemy import func, select

from tbapp.db import SessionLocal
from tbapp.models import Item


def add_item(name):
    with SessionLocal() as session:
        session.add(Item(name=name))
        session.commit()


def count_items():
    with SessionLocal() as session:
        return session.scalar(select(func.count(Item.id)))
""",
}


def calls(flavour: str, source: str) -> str:
    """A test module for either flavour: `AWAIT ` is `await ` for async apps, and `ASYNC ` is
    `async `."""
    source = textwrap.dedent(source)
    if flavour == "async":
        header = "import pytest\n\npytestmark = pytest.mark.anyio\n"
        return header + source.replace("AWAIT ", "await ").replace("ASYNC ", "async ")
    header = "import pytest\n"
    return header + source.replace("AWAIT ", "").replace("ASYNC ", "")


UNIT_TESTS = """
from tbapp import services


ASYNC def test_1_a_service_writes():
    AWAIT services.add_item("a")
    assert AWAIT services.count_items() == 1


ASYNC def test_2_rolled_back():
    assert AWAIT services.count_items() == 0
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_test_without_database_fixtures_is_isolated(project: Project, flavour: str) -> None:
    build(
        project,
        calls(flavour, UNIT_TESTS),
        flavour=flavour,
        modules={"services": SERVICES[flavour]},
    )
    project.run().assert_outcomes(passed=2)


EXPLICIT_TESTS = """
from tbapp import services
from tbapp.models import Item


@pytest.fixture(scope="module")
def reference(testbed_data):
    with testbed_data.session() as session:  # wider fixtures may always reach it
        session.add(Item(name="reference"))


ASYNC def test_refused():
    AWAIT services.count_items()


@pytest.mark.testbed
ASYNC def test_marked():
    AWAIT services.add_item("a")
    assert AWAIT services.count_items() == 1


ASYNC def test_with_db_session(db_session, reference):
    assert AWAIT services.count_items() == 1


ASYNC def test_asked_late(request, reference):
    request.getfixturevalue("db_session")
    assert AWAIT services.count_items() == 1


def test_no_database():
    assert True
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_explicit_db_access_refuses_tests_that_did_not_ask(project: Project, flavour: str) -> None:
    build(
        project,
        calls(flavour, EXPLICIT_TESTS),
        flavour=flavour,
        modules={"services": SERVICES[flavour]},
        extra='db_access = "explicit"',
    )
    result = project.run()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*TestbedError: fastapi-testbed: test_app.py::test_refused reached the test database "
            '* without asking for it, and ?tool.testbed? db_access = "explicit" in '
            "*pyproject.toml refuses that.",
            "*Request the db_session fixture (or db_connection, client, sync_client, testbed), or "
            'mark the test @pytest.mark.testbed; db_access = "implicit" lets every test reach it.',
        ]
    )


def test_report_header_says_what_is_on(sqlite_project: Project) -> None:
    build(sqlite_project, "def test_x():\n    pass\n")
    assert (
        "every test is isolated, database fixtures or not"
        in sqlite_project.run("--co").stdout.str()
    )
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\ndb_access = "explicit"\nbase_url = "http://localhost"\nheaders = { X-Api-Key = "k" }\n'
        + 'settings = "tbapp.config:get_settings"\nseed = "tbapp.seed:run"\n'
    )
    sqlite_project.run("--co").stdout.fnmatch_lines(
        [
            "testbed: only tests that ask (db_session, db_connection, client, sync_client, "
            'testbed, @pytest.mark.testbed) reach the database (db_access = "explicit")',
            "testbed: clients on http://localhost, headers X-Api-Key",
            "testbed: settings fixture on tbapp.config:get_settings",
            "testbed: seed tbapp.seed:run, once after the schema is built",
        ]
    )


# --- 1. data that outlives a test -----------------------------------------------------------------
SCOPED_ASYNC = """
import pytest
{imports}
from sqlalchemy import func, select

from tbapp.models import Item

{preamble}


{fixture}
async def admin(testbed_data):
    async with testbed_data.session() as session:
        session.add(admin := Item(name="admin"))
    return admin


{fixture}
async def admin_via_api(testbed_data, admin):
    async with testbed_data.client() as client:
        response = await client.post("/items", json={{"name": "api"}})
    assert response.status_code == 201, response.text
    return response.json()


async def test_1_sees_them(admin, admin_via_api, client, db_session):
    assert (await client.get("/items")).json() == ["admin", "api"]
    assert (await db_session.get(Item, admin.id)).name == "admin"
    assert (await client.post("/items", json={{"name": "mine"}})).status_code == 201


async def test_2_own_writes_rolled_back(admin, client):
    assert (await client.get("/items")).json() == ["admin", "api"]


@pytest.mark.testbed(isolation="truncate")
async def test_3_truncate_sees_them(admin, client):
    assert (await client.get("/items")).json() == ["admin", "api"]
    assert (await client.post("/items", json={{"name": "committed"}})).status_code == 201


async def test_4_after_emptying(admin, client, db_session):
    assert (await client.get("/items")).json() == ["admin", "api"]
    db_session.add(Item(name="next"))
    await db_session.commit()  # the id sequence moved past the rows put back
"""

RUNNERS = {
    "anyio": {
        "imports": "",
        "preamble": 'pytestmark = pytest.mark.anyio\n\n\n@pytest.fixture(scope="module")\n'
        'def anyio_backend():\n    return "asyncio"',
        "fixture": '@pytest.fixture(scope="module")',
    },
    "asyncio": {
        "imports": "import pytest_asyncio",
        "preamble": "pytestmark = pytest.mark.asyncio",
        "fixture": '@pytest_asyncio.fixture(scope="module", loop_scope="module")',
    },
}

SCOPED_SYNC = """
import pytest

from tbapp.models import Item


@pytest.fixture(scope="module")
def admin(testbed_data):
    with testbed_data.session() as session:
        session.add(admin := Item(name="admin"))
    return admin


@pytest.fixture(scope="module")
def admin_via_api(testbed_data, admin):
    with testbed_data.sync_client() as client:
        response = client.post("/items", json={"name": "api"})
    assert response.status_code == 201, response.text
    return response.json()


def test_1_sees_them(admin, admin_via_api, sync_client, db_session):
    assert sync_client.get("/items").json() == ["admin", "api"]
    assert db_session.get(Item, admin.id).name == "admin"
    assert sync_client.post("/items", json={"name": "mine"}).status_code == 201


def test_2_own_writes_rolled_back(admin, sync_client):
    assert sync_client.get("/items").json() == ["admin", "api"]


@pytest.mark.testbed(isolation="truncate")
def test_3_truncate_sees_them(admin, sync_client):
    assert sync_client.get("/items").json() == ["admin", "api"]
    assert sync_client.post("/items", json={"name": "committed"}).status_code == 201


def test_4_after_emptying(admin, sync_client, db_session):
    assert sync_client.get("/items").json() == ["admin", "api"]
    db_session.add(Item(name="next"))
    db_session.commit()
"""

AFTER_THE_MODULE = """
def test_gone(sync_client):
    assert sync_client.get("/items").json() == []
"""


@pytest.mark.parametrize("flavour", ["async-anyio", "async-asyncio", "sync"])
def test_module_scoped_data(project: Project, flavour: str) -> None:
    if flavour == "sync":
        build(project, SCOPED_SYNC, flavour="sync")
    else:
        runner = RUNNERS[flavour.split("-")[1]]
        build(project, SCOPED_ASYNC.format(**runner), ini='asyncio_mode = "strict"')
    project.pytester.makepyfile(test_zz_after=AFTER_THE_MODULE)
    project.run("-v").assert_outcomes(passed=5)


WIDER_CONFTEST = """
from tbapp.models import Item


def names(client):
    return sorted(client.get("/items").json())


@pytest.fixture(scope="session")
def admin(testbed_data):
    with testbed_data.session() as session:
        session.add(admin := Item(name="admin"))
    return admin
"""

PACKAGE_CONFTEST = """
import pytest

from tbapp.models import Item


@pytest.fixture(scope="package")
def reference(testbed_data):
    with testbed_data.session() as session:
        session.add(Item(name="reference"))
"""

IN_THE_PACKAGE = """
import pytest

from conftest import names
from tbapp.models import Item


@pytest.fixture(scope="module")
def module_rows(testbed_data):
    with testbed_data.session() as session:
        session.add(Item(name="module"))


def test_1_module(module_rows, sync_client):
    assert names(sync_client) == ["module"]


def test_2_session_fixture_set_up_after_a_module_one(module_rows, admin, sync_client):
    assert names(sync_client) == ["admin", "module"]


def test_3_package(module_rows, admin, reference, sync_client):
    assert names(sync_client) == ["admin", "module", "reference"]


class TestClassScope:
    @pytest.fixture(scope="class")
    @classmethod
    def class_rows(cls, testbed_data):
        with testbed_data.session() as session:
            session.add(Item(name="class"))

    def test_4_class(self, class_rows, module_rows, sync_client):
        assert names(sync_client) == ["admin", "class", "module", "reference"]

    @pytest.mark.testbed(isolation="truncate")
    def test_5_truncate(self, class_rows, sync_client):
        assert names(sync_client) == ["admin", "class", "module", "reference"]
        assert sync_client.post("/items", json={"name": "committed"}).status_code == 201


def test_6_class_rows_gone(module_rows, sync_client):
    assert names(sync_client) == ["admin", "module", "reference"]
"""

OUTSIDE_THE_PACKAGE = """
from conftest import names


def test_7_only_the_session_rows_left(admin, sync_client):
    # the module and package ended before the session fixture did: their rows went, its stay
    assert names(sync_client) == ["admin"]
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_session_package_module_and_class_scoped_data(project: Project, flavour: str) -> None:
    build(project, "", flavour=flavour, conftest=WIDER_CONFTEST)
    (project.pytester.path / "test_app.py").unlink()
    package = project.pytester.mkpydir("tests_pkg")
    (package / "conftest.py").write_text(PACKAGE_CONFTEST)
    (package / "test_in_package.py").write_text(IN_THE_PACKAGE)
    later = project.pytester.mkdir("tests_zz")  # collected after the package
    (later / "test_outside.py").write_text(OUTSIDE_THE_PACKAGE)
    project.run("-v").assert_outcomes(passed=7)


SEEDS = {
    "async": """
from tbapp.models import Item


async def run(session):
    session.add(Item(name="seeded"))
    await session.flush()
""",
    "sync": """
from tbapp.models import Item


def run(session):
    session.add(Item(name="seeded"))
""",
}

SEEDED_TESTS = """
import pytest


def test_1_seeded(sync_client):
    assert sync_client.get("/items").json() == ["seeded"]
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201


def test_2_own_writes_rolled_back(sync_client):
    assert sync_client.get("/items").json() == ["seeded"]


@pytest.mark.testbed(isolation="truncate")
def test_3_truncate(sync_client):
    assert sync_client.get("/items").json() == ["seeded"]
    assert sync_client.post("/items", json={"name": "b"}).status_code == 201


def test_4_after_emptying(sync_client):
    assert sync_client.get("/items").json() == ["seeded"]
    assert sync_client.post("/items", json={"name": "c"}).status_code == 201
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_seed_rows_are_in_every_test(project: Project, flavour: str) -> None:
    build(
        project,
        SEEDED_TESTS,
        flavour=flavour,
        modules={"seed": SEEDS[flavour]},
        extra='seed = "tbapp.seed:run"',
    )
    project.run().assert_outcomes(passed=4)
    # a kept database is left as the schema's build made it: the next run seeds it afresh
    project.run("--reuse-db").assert_outcomes(passed=4)
    project.run("--reuse-db").assert_outcomes(passed=4)


def test_a_failing_seed_says_where(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        "def test_x(sync_client):\n    pass\n",
        modules={"seed": "def run(session):\n    raise ValueError('no admin e-mail')\n"},
        extra='seed = "tbapp.seed:run"',
    )
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the seed ?tool.testbed? seed = 'tbapp.seed:run' in *pyproject.toml raised "
            "ValueError: no admin e-mail",
            "*at */tbapp/seed.py:2",
            "*Fix the seed function; it is called once, with a session of the app's main engine,"
            " after the schema is built.",
        ]
    )


FACTORIES_AND_OWN_SESSIONS = """
import factory
import pytest
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory

from tbapp.db import SessionLocal
from tbapp.models import Item


class ItemFactory(SQLAlchemyFactory[Item]):
    __model__ = Item
    __set_primary_key__ = False


class BoyFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Item

    name = factory.Sequence(lambda n: f"boy-{n}")


@pytest.fixture(scope="module")
def made_by_factories(testbed_data):
    with testbed_data.session():  # the factories write through the block's session
        ItemFactory.create_sync(name="poly")
        BoyFactory()


@pytest.fixture(scope="module")
def made_by_the_apps_own_session():
    # no plugin API at all: the app's sessionmaker, in a module-scoped fixture
    if {async_app}:
        run_in_a_thread(add_with_async_session())
    else:
        with SessionLocal() as session:
            session.add(Item(name="own"))
            session.commit()


async def add_with_async_session():
    async with SessionLocal() as session:
        session.add(Item(name="own"))
        await session.commit()


def run_in_a_thread(awaitable):
    import asyncio
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(awaitable)))
    thread.start()
    thread.join()


def test_1(made_by_factories, made_by_the_apps_own_session, sync_client):
    assert sorted(sync_client.get("/items").json()) == ["boy-0", "own", "poly"]
    assert sync_client.post("/items", json={"name": "x"}).status_code == 201


def test_2(made_by_factories, made_by_the_apps_own_session, sync_client):
    assert sorted(sync_client.get("/items").json()) == ["boy-0", "own", "poly"]
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_factories_and_the_apps_own_sessions_in_wider_fixtures(
    project: Project, flavour: str
) -> None:
    tests = FACTORIES_AND_OWN_SESSIONS.replace("{async_app}", str(flavour == "async"))
    build(project, tests, flavour=flavour)
    project.pytester.makepyfile(test_zz_after=AFTER_THE_MODULE)
    project.run().assert_outcomes(passed=3)


SCHEMA_ROWS = """
from sqlalchemy import DDL, event

# rows the schema's build writes, as a data migration does
event.listen(
    Item.__table__, "after_create", DDL("INSERT INTO items (name) VALUES ('from-the-build')")
)
"""

SCHEMA_ROWS_TESTS = """
import pytest


@pytest.mark.testbed(isolation="truncate")
def test_1_truncate(sync_client):
    assert sync_client.get("/items").json() == ["from-the-build"]
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201


def test_2_put_back(sync_client):
    assert sync_client.get("/items").json() == ["from-the-build"]
    assert sync_client.post("/items", json={"name": "b"}).status_code == 201
"""


def test_rows_of_the_schemas_build_survive_truncate_tests(project: Project) -> None:
    build(project, SCHEMA_ROWS_TESTS, flavour="sync", models=SCHEMA_ROWS)
    project.run().assert_outcomes(passed=2)


AWKWARD_SCHEMA = """
from sqlalchemy import JSON, Column, Computed, ForeignKey, Identity, Table


class Owner(Base):
    __tablename__ = "owners"
    id: Mapped[int] = mapped_column(Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    shout: Mapped[str] = mapped_column(String(50), Computed("upper(name)"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class Pet(Base):
    __tablename__ = "pets"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"))
    name: Mapped[str] = mapped_column(String(50))


tags = Table(
    "tags", Base.metadata, Column("pet_id", ForeignKey("pets.id")), Column("tag", String(20))
)
"""

AWKWARD_SEED = """
from sqlalchemy import insert

from tbapp.models import Owner, Pet, tags


def run(session):
    session.add(ada := Owner(name="ada", data={"langs": ["en", "fr"]}))
    session.flush()
    session.add(rex := Pet(owner_id=ada.id, name="rex"))
    session.flush()
    session.execute(insert(tags), [{"pet_id": rex.id, "tag": "good"}, {"pet_id": None, "tag": "x"}])
"""

AWKWARD_TESTS = """
import pytest
from sqlalchemy import select

from tbapp.models import Owner, Pet, tags


def rows(session):
    owners = [(o.name, o.shout, o.data) for o in session.scalars(select(Owner))]
    pets = [(p.name, p.owner_id) for p in session.scalars(select(Pet))]
    return owners, pets, sorted(session.execute(select(tags.c.tag)).scalars())


SEEDED = ([("ada", "ADA", {"langs": ["en", "fr"]})], [("rex", 1)], ["good", "x"])


@pytest.mark.testbed(isolation="truncate")
def test_1_truncate(testbed):
    session = testbed.session()
    assert rows(session) == SEEDED
    session.add(Owner(name="bob"))
    session.commit()


def test_2_put_back(testbed):
    session = testbed.session()
    assert rows(session) == SEEDED
    session.add(bob := Owner(name="bob"))
    session.flush()  # the identity moved past the row put back
    assert bob.id > 1
"""


def test_rows_put_back_keep_ids_json_and_generated_columns(project: Project) -> None:
    build(
        project,
        AWKWARD_TESTS,
        flavour="sync",
        models=AWKWARD_SCHEMA,
        modules={"seed": AWKWARD_SEED},
        extra='seed = "tbapp.seed:run"',
    )
    project.run().assert_outcomes(passed=2)
