"""Bad input: one message and exit code 4, whatever is wrong and wherever it is found (issue 12).

Each case names what was found, what was expected and which setting, option or marker to
change, once, with no traceback, and stops the run as a pytest.UsageError does.
"""

from __future__ import annotations

import pytest

from tests.conftest import SERVERS, Project

NOISE = ("Traceback", "During handling of the above exception", "The above exception was the")
USES_THE_DATABASE = """
def test_1(testbed):
    pass


def test_2(testbed):
    pass
"""


def one_message(result: pytest.RunResult, *lines: str) -> None:
    """Exit code 4, the message once on stderr (as pytest prints a UsageError), no tracebacks."""
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    for noise in NOISE:
        assert noise not in output, output
    result.stderr.fnmatch_lines(lines)
    assert output.count("fastapi-testbed:") == 1, output  # every message starts so, once


def replace(project: Project, path: str, old: str, new: str) -> None:
    file = project.pytester.path / path
    text = file.read_text()
    assert old in text, text
    file.write_text(text.replace(old, new))


# --- a URL that is not one ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "lines"),
    [
        (
            "option",
            ["*'not a url' (from --testbed-db-url) is not a database URL*", "Change --testbed-db*"],
        ),
        (
            "environment",
            ["*'not a url' (from env TESTBED_DATABASE_URL) is not a*", "Change --testbed-db*"],
        ),
        ("table", ["*'not a url' (from ?tool.testbed? in *) is not a*", "Change --testbed-db*"]),
        (
            "app variable",
            ["*'not a url' (from env DATABASE_URL) is not a*", "Change the environment var*"],
        ),
        (
            "app variable in env",
            [
                "*'not a url' (from ?tool.testbed? env.DATABASE_URL) is not a database URL*",
                "Change ?tool.testbed? env.DATABASE_URL in */pyproject.toml.",
            ],
        ),
    ],
)
def test_garbage_url_names_the_setting_it_came_from(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch, where: str, lines: list[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TESTBED_DATABASE_URL", raising=False)
    sqlite_project.write(USES_THE_DATABASE)
    args: list[str] = []
    if where == "option":
        args = ["--testbed-db-url", "not a url"]
    elif where == "environment":
        monkeypatch.setenv("TESTBED_DATABASE_URL", "not a url")
    elif where == "table":
        replace(
            sqlite_project,
            "pyproject.toml",
            "[tool.testbed]",
            '[tool.testbed]\ndatabase_url = "not a url"',
        )
    elif where == "app variable":
        monkeypatch.setenv("DATABASE_URL", "not a url")
    else:
        replace(
            sqlite_project,
            "pyproject.toml",
            'SECRET_KEY = "from-testbed"',
            'DATABASE_URL = "not a url"',
        )
    one_message(sqlite_project.run(*args), *lines)


@pytest.mark.parametrize("verbosity", ["-v", "-q"])
def test_engine_url_the_app_builds_is_not_a_url(sqlite_project: Project, verbosity: str) -> None:
    # with -q pytest prints no header, where the app used to be imported
    sqlite_project.write(USES_THE_DATABASE, flavour="sync")
    replace(
        sqlite_project,
        "tbapp/db.py",
        "create_engine(URL_AT_IMPORT, connect_args={})",
        'create_engine("not a url")',
    )
    one_message(
        sqlite_project.run(verbosity),
        "*app = 'tbapp.main:app': importing tbapp.main raised ArgumentError: Could not parse*",
        '    at tbapp/db.py:7: engine = create_engine("not a url")',
        "Fix the code there, or the settings it reads*",
    )


# --- an app that is not an ASGI application ---------------------------------------------------
CLIENT_TEST = """
import pytest


@pytest.mark.anyio
async def test_x(client):
    await client.get("/items")
"""

NOT_APPS = """

from fastapi import APIRouter

from tbapp import models

router = APIRouter()
nothing = None


def build():
    return app
"""


@pytest.mark.parametrize(
    ("value", "lines"),
    [
        (
            "tbapp.main:router",
            [
                "*app = 'tbapp.main:router' is an APIRouter, not an ASGI app*",
                "*name the FastAPI app that includes it.",
            ],
        ),
        (
            "tbapp.main:models",
            ["*app = 'tbapp.main:models' is the module 'tbapp.models', not an ASGI app*"],
        ),
        (
            "tbapp.main:build",
            [
                "*app = 'tbapp.main:build' is the function build(), not*",
                '*A factory is named with "()": "tbapp.main:build()".',
            ],
        ),
        ("tbapp.main:names", ["*app = 'tbapp.main:names' is the function names(), not*"]),
        ("tbapp.main:nothing", ["*app = 'tbapp.main:nothing' is None, not an ASGI app*"]),
        ("tbapp.main:Item", ["*app = 'tbapp.main:Item' is the class Item, not an ASGI*"]),
    ],
)
def test_app_that_is_not_asgi(sqlite_project: Project, value: str, lines: list[str]) -> None:
    sqlite_project.write(CLIENT_TEST)
    main = sqlite_project.pytester.path / "tbapp" / "main.py"
    main.write_text(main.read_text() + NOT_APPS)
    replace(sqlite_project, "pyproject.toml", 'app = "tbapp.main:app"', f'app = "{value}"')
    if len(lines) == 1:
        lines = [*lines, "Point app in */pyproject.toml at the application itself*"]
    one_message(sqlite_project.run(), *lines)


def test_app_factory_is_still_an_app(sqlite_project: Project) -> None:
    sqlite_project.write(
        "def test_x(sync_client):\n    assert sync_client.get('/items').json() == []\n",
        flavour="sync",
    )
    main = sqlite_project.pytester.path / "tbapp" / "main.py"
    main.write_text(main.read_text() + NOT_APPS)
    replace(
        sqlite_project, "pyproject.toml", 'app = "tbapp.main:app"', 'app = "tbapp.main:build()"'
    )
    sqlite_project.run().assert_outcomes(passed=1)


# --- drivers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "lines"),
    [
        (
            "postgresql+pg8000://postgres@127.0.0.1:5432/",
            [
                "*needs the 'pg8000' driver, which is not installed.",
                "Install it (pip install pg8000)*",
            ],
        ),
        (
            "postgresql+nosuchdriver://postgres@127.0.0.1:5432/",
            [
                "*names the driver 'nosuchdriver', which SQLAlchemy does not know for postgresql.",
                "Name one of asyncpg, psycopg, *",
            ],
        ),
    ],
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_driver_the_plugin_cannot_use(
    sqlite_project: Project, url: str, lines: list[str], flavour: str
) -> None:
    sqlite_project.write(USES_THE_DATABASE, flavour=flavour)
    one_message(sqlite_project.run("--testbed-db-url", url), *lines)


def test_driver_the_app_names_that_is_not_installed(sqlite_project: Project) -> None:
    sqlite_project.write(USES_THE_DATABASE, flavour="sync")
    replace(
        sqlite_project,
        "tbapp/db.py",
        "create_engine(URL_AT_IMPORT, connect_args={})",
        'create_engine("postgresql+pg8000://postgres@127.0.0.1:5432/shop")',
    )
    one_message(sqlite_project.run(), "*needs the 'pg8000' driver, which is not installed.")


WRONG_KIND = {
    # the app's engine, and a driver of the other kind on its own backend
    ("sqlite", "async"): "sqlite+pysqlite:///./shop.db",
    ("sqlite", "sync"): "sqlite+aiosqlite:///./shop.db",
    ("postgresql", "async"): "postgresql+pg8000://postgres@127.0.0.1:5432/shop",
    ("postgresql", "sync"): "postgresql+asyncpg://postgres@127.0.0.1:5432/shop",
    ("mariadb", "async"): "mysql+pymysql://root@127.0.0.1:3306/shop",
    ("mariadb", "sync"): "mysql+aiomysql://root@127.0.0.1:3306/shop",
}


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_engine_given_a_driver_of_the_other_kind(project: Project, flavour: str) -> None:
    backend = next(name for name, server in SERVERS.items() if server == project.server)
    url = WRONG_KIND[backend, flavour]
    if "pg8000" in url:  # not installed: that message comes first
        url = url.replace("pg8000", "psycopg2")
    project.write(USES_THE_DATABASE, flavour=flavour)
    maker = "create_async_engine" if flavour == "async" else "create_engine"
    old = f"{maker}(URL_AT_IMPORT" + (", connect_args={})" if flavour == "sync" else ")")
    replace(project, "tbapp/db.py", old, f'{maker}("{url}")')
    if "psycopg2" in url:
        lines = ["*needs the 'psycopg2' driver, which is not installed*"]
    else:
        other = "sync" if flavour == "async" else "async"
        lines = [
            f"*names the {other} driver *, but the engine that uses it is {flavour} ({maker}).",
            f"Name a* {flavour} driver (*) in the URL*",
        ]
    one_message(project.run(), *lines)


# --- the app's own errors, under the setting that imported it -------------------------------------
def test_app_reading_a_variable_the_plugin_did_not_set(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TBAPP_SECRET", raising=False)
    sqlite_project.write(USES_THE_DATABASE)
    main = sqlite_project.pytester.path / "tbapp" / "main.py"
    main.write_text('import os\n\nSECRET = os.environ["TBAPP_SECRET"]\n' + main.read_text())
    one_message(
        sqlite_project.run(),
        "*app = 'tbapp.main:app': the app reads the environment variable 'TBAPP_SECRET', which*",
        '    at tbapp/main.py:3: SECRET = os.environ["TBAPP_SECRET"]',
        'Set it in ?tool.testbed? env in */pyproject.toml*: env = { TBAPP_SECRET = "..." }.',
    )


def test_app_factory_that_raises_shows_its_error_once(sqlite_project: Project) -> None:
    sqlite_project.write(USES_THE_DATABASE)
    main = sqlite_project.pytester.path / "tbapp" / "main.py"
    main.write_text(
        main.read_text()
        + '\n\ndef create_app():\n    raise RuntimeError("no MAIL_HOST configured")\n'
    )
    replace(
        sqlite_project,
        "pyproject.toml",
        'app = "tbapp.main:app"',
        'app = "tbapp.main:create_app()"',
    )
    result = sqlite_project.run()
    one_message(
        result,
        "*app = 'tbapp.main:create_app()': calling create_app() raised RuntimeError: no MAIL_HOST*",
        '    at tbapp/main.py:*: raise RuntimeError("no MAIL_HOST configured")',
    )
    assert (result.stdout.str() + result.stderr.str()).count("no MAIL_HOST configured") == 2


def test_models_folder_without_init_is_read_as_python_imports_it(sqlite_project: Project) -> None:
    # namespace packages: the async guess reads their source without importing them
    sqlite_project.write(USES_THE_DATABASE)
    package = sqlite_project.pytester.path / "tbapp"
    (package / "models").mkdir()
    (package / "models.py").rename(package / "models" / "base.py")
    (package / "__init__.py").unlink()
    for path in ("tbapp/main.py", "tbapp/db.py", "pyproject.toml"):
        file = sqlite_project.pytester.path / path
        file.write_text(file.read_text().replace("tbapp.models", "tbapp.models.base"))
    sqlite_project.run().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("value", "lines"),
    [
        (
            "true",
            [
                "*env.DEBUG in */pyproject.toml is True, a boolean; environment variables hold*",
                'Quote it: DEBUG = "true".',
            ],
        ),
        ("3", ["*env.DEBUG in * is 3, an integer*", 'Quote it: DEBUG = "3".']),
        (
            "{ a = 1 }",
            ["*env.DEBUG in * is {'a': 1}, a table*", 'Quote it: DEBUG = "..." (a string).'],
        ),
    ],
)
def test_env_values_must_be_strings(sqlite_project: Project, value: str, lines: list[str]) -> None:
    sqlite_project.write(USES_THE_DATABASE)
    replace(
        sqlite_project,
        "pyproject.toml",
        'SECRET_KEY = "from-testbed"',
        f'SECRET_KEY = "x", DEBUG = {value}',
    )
    one_message(sqlite_project.run(), *lines)


# --- errors at first use: the test database cannot be built -----------------------------------
BROKEN_MIGRATION = """
revision = "0001"
down_revision = None


def upgrade():
    raise RuntimeError("broken migration 0001")


def downgrade():
    pass
"""


def broken_alembic(project: Project, tests: str, flavour: str = "async") -> None:
    from tests.core.test_database import ALEMBIC_ENV, ALEMBIC_INI

    project.write(tests, flavour=flavour)
    replace(
        project,
        "pyproject.toml",
        'metadata = "tbapp.models:Base.metadata"',
        'alembic_ini = "alembic.ini"',
    )
    (project.pytester.path / "alembic.ini").write_text(ALEMBIC_INI)
    versions = project.pytester.path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions.parent / "env.py").write_text(ALEMBIC_ENV)
    (versions / "0001_broken.py").write_text(BROKEN_MIGRATION)


SCHEMA_LINES = [
    "*building the schema of * with alembic upgrade head failed:",
    "    RuntimeError: broken migration 0001",
    "Fix the alembic_ini setting or the migration it runs.",
]


def test_schema_that_cannot_be_built_stops_the_run(project: Project) -> None:
    broken_alembic(project, USES_THE_DATABASE)
    result = project.run()
    one_message(result, *SCHEMA_LINES)
    result.assert_outcomes()  # stopped before the first test ran


BUILT_INSIDE_A_TEST = """
from sqlalchemy import text


def test_1_reaches_the_database_itself():
    from tbapp.db import engine  # no fixture: the test database is built at this connection

    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def test_2_never_runs():
    pass
"""


def test_schema_failing_inside_a_test_stops_the_run(project: Project) -> None:
    broken_alembic(project, BUILT_INSIDE_A_TEST, flavour="sync")
    result = project.run("-v")
    result.assert_outcomes(failed=1)  # test_2 never runs
    result.stdout.fnmatch_lines(["*fastapi-testbed stopped the run*"])
    one_message(result, *SCHEMA_LINES)


REFUSING = {
    "postgresql": "postgresql://no_such_user@127.0.0.1:5432/",
    "mariadb": "mysql://no_such_user@127.0.0.1:3306/",
}


@pytest.mark.parametrize("server", list(REFUSING))
def test_login_refused_is_one_message(sqlite_project: Project, server: str) -> None:
    sqlite_project.write(USES_THE_DATABASE)
    one_message(sqlite_project.run("--testbed-db-url", REFUSING[server]), "*no_such_user*")


def test_under_xdist_the_message_comes_once_and_the_exit_code_is_4(project: Project) -> None:
    broken_alembic(project, USES_THE_DATABASE + "\n\ndef test_3(testbed):\n    pass\n")
    result = project.run("-n", "2", subprocess=True)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    for noise in NOISE:
        assert noise not in output, output
    assert output.count("broken migration 0001") == 1, output
    result.stderr.fnmatch_lines(SCHEMA_LINES)
