"""The test database: derived name, created once, schema built, dropped unless --reuse-db."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from fastapi_testbed.errors import TestbedError
from fastapi_testbed.urls import check_test_database
from tests.conftest import SERVERS, Check, Project

NAME_AND_DROP = """
import os
import re


def test_database_is_a_test_database(testbed):
    from tbapp.db import engine

    assert engine.url == testbed.url
    name = testbed.url.database
    if testbed.url.get_backend_name() == "sqlite":
        assert os.path.basename(name) == "test_tbapp.db"
        assert os.path.exists(name)
        print("SQLITE-FILE", name)
    else:  # test_tbapp, or test_tbapp_2... while another run on the server holds it
        assert re.fullmatch(r"test_tbapp(_[0-9]+)?", name), name
        print("SERVER-DB", name)
"""


def test_created_then_dropped(project: Project, databases_on: Check) -> None:
    project.write(NAME_AND_DROP)
    result = project.run("-s")
    result.assert_outcomes(passed=1)
    if project.server is None:
        path = next(line.split()[-1] for line in result.outlines if "SQLITE-FILE" in line)
        assert not Path(path).exists()
        assert ".pytest_cache" not in path
    else:
        name = next(line.split()[-1] for line in result.outlines if "SERVER-DB" in line)
        assert name not in databases_on(project.server)


REUSE = """
from sqlalchemy import inspect

from fastapi_testbed.engines import run_sync


def test_marks_the_database(testbed):
    def mark(connection):
        existed = "reuse_mark" in inspect(connection).get_table_names()
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS reuse_mark (id INTEGER)")
        return existed

    database = testbed.database  # the plugin's own engine: outside the test's transaction
    print("MARK-EXISTED", run_sync(database.engine, database.loop, mark))
"""


def test_reuse_db_keeps_the_database_and_create_db_rebuilds_it(
    sqlite_or_pg_project: Project, databases_on: Check
) -> None:
    project = sqlite_or_pg_project
    name = f"test_tbreuse_{os.getpid()}"  # named by the server URL: no other run holds it
    if project.server:
        project.server += name
    project.write(REUSE)

    def mark_existed(*args: str) -> bool:
        result = project.run("-s", *args)
        result.assert_outcomes(passed=1)
        line = next(line for line in result.outlines if "MARK-EXISTED" in line)
        return line.split()[-1] == "True"

    assert mark_existed("--reuse-db") is False  # a new database
    assert mark_existed("--reuse-db") is True  # kept, table and all
    server = project.server.rsplit("/", 1)[0] + "/" if project.server else None
    if server:
        assert name in databases_on(server)
    assert mark_existed("--reuse-db", "--create-db") is False  # rebuilt from scratch
    assert mark_existed() is False  # no reuse: a fresh database ...
    if server:
        assert name not in databases_on(server)  # ... dropped at the end


XDIST = """
import os


def test_a(testbed):
    print("WORKER-DB", os.environ.get("PYTEST_XDIST_WORKER"), testbed.url.database)
    # named after the app's database, not after the controller's test database
    assert os.path.basename(testbed.url.database).startswith("test_tbapp_gw")
    assert testbed.url.database.endswith("_" + os.environ["PYTEST_XDIST_WORKER"]) or \\
        testbed.url.database.endswith("_" + os.environ["PYTEST_XDIST_WORKER"] + ".db")


def test_b(testbed):
    test_a(testbed)
"""


def test_each_xdist_worker_gets_its_own_database(project: Project) -> None:
    project.write(XDIST)
    result = project.run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=2)


ALEMBIC_INI = """
[alembic]
script_location = migrations

[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARN
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic
[formatter_generic]
format = %(message)s
"""

ALEMBIC_ENV = """
import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine


def run(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    url = os.environ.get("DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


asyncio.run(main())
"""

ALEMBIC_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )


def downgrade():
    op.drop_table("items")
"""

ALEMBIC_TESTS = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio



async def test_schema_from_migrations(client, db_session):
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    version = (await db_session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == "0001"
"""


def test_schema_built_by_alembic(project: Project) -> None:
    project.write(ALEMBIC_TESTS)
    pyproject = project.pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'metadata = "tbapp.models:Base.metadata"', 'alembic_ini = "alembic.ini"'
        )
    )
    (project.pytester.path / "alembic.ini").write_text(ALEMBIC_INI)
    versions = project.pytester.path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions.parent / "env.py").write_text(textwrap.dedent(ALEMBIC_ENV))
    (versions / "0001_items.py").write_text(textwrap.dedent(ALEMBIC_REVISION))
    project.run().assert_outcomes(passed=1)


def test_safety_rule_refuses_non_test_names() -> None:
    for url in ("postgresql://u@h/app", "mysql://u@h/prod", "sqlite:////tmp/app.db"):
        with pytest.raises(TestbedError, match=r"refusing to drop database .* does not start with"):
            check_test_database(make_url(url), "drop")
    check_test_database(make_url("postgresql://u@h/test_app"), "drop")


def test_safety_rule_refuses_the_apps_own_database() -> None:
    with pytest.raises(TestbedError, match="it is the database the app uses outside tests"):
        check_test_database(
            make_url("postgresql+asyncpg://u@h:5432/test_app"),
            "create",
            app_urls=[("env DATABASE_URL", "postgresql://u@h:5432/test_app")],
        )


UNSAFE = """
def test_x(testbed):
    pass
"""


def test_app_database_already_named_test_gets_a_test_database_of_its_own(
    pytester: pytest.Pytester, databases_on: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's own database is test_x: its test database is test_test_x, as in Django.
    server = SERVERS["postgresql"]
    assert server is not None
    own = f"test_tbself_{os.getpid()}"  # a name no other run on the server uses
    monkeypatch.setenv("DATABASE_URL", server + own)
    project = Project(pytester, None)
    project.write(f"def test_x(testbed):\n    assert testbed.url.database == 'test_{own}'\n")
    project.run().assert_outcomes(passed=1)
    assert own not in databases_on(server)


def test_server_url_naming_the_apps_own_database_is_refused(
    pytester: pytest.Pytester, databases_on: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SERVERS["postgresql"]
    assert server is not None
    own = f"test_tbself_{os.getpid()}"  # a name no other run on the server uses
    monkeypatch.setenv("DATABASE_URL", server + own)
    project = Project(pytester, None)
    project.write(UNSAFE)
    result = project.run("--testbed-db-url", server + own)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the run stops before any test
    result.stderr.fnmatch_lines([f"*refusing to create '{own}'*the app uses outside tests*"])
    assert own not in databases_on(server)


def test_unreachable_server_is_one_clear_error(sqlite_project: Project) -> None:
    # the server is reached at the start, to hold the test database's name: before any test
    sqlite_project.write(UNSAFE)
    result = sqlite_project.run("--testbed-db-url", "postgresql://postgres@127.0.0.1:1/")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*could not connect to the database server at postgresql+asyncpg://postgres@127.0.0.1:1/"
            "postgres (from --testbed-db-url)*",
            "*Start the server, or change --testbed-db-url*",
        ]
    )
    assert result.stderr.str().count("could not connect") == 1
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_missing_driver_names_the_package(sqlite_project: Project) -> None:
    sqlite_project.write(UNSAFE)
    result = sqlite_project.run("--testbed-db-url", "postgresql+psycopg2://postgres@127.0.0.1/")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*needs the 'psycopg2' driver, which is not installed*", "*pip install psycopg2-binary*"]
    )
