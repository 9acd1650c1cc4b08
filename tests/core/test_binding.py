"""What binding at the engine guarantees beyond the isolation scenarios: DDL the app runs inside a
test, and engines the plugin could not bind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Project

LIFESPAN_CREATE_ALL = """
from contextlib import asynccontextmanager

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tbapp.db import engine
import tbapp.main as main


class Extra(DeclarativeBase):  # tables the schema settings do not know: the app creates them
    pass


class Visit(Extra):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(50), index=True)


@asynccontextmanager
async def lifespan(app):
    async with engine.begin() as connection:
        await connection.run_sync(Extra.metadata.create_all)
    yield


main.app.router.lifespan_context = lifespan
"""

DDL_TESTS = """
import pytest
from sqlalchemy import func, select, text
from tbapp.models import Item

pytestmark = pytest.mark.anyio


async def test_1_lifespan_creates_tables_inside_the_test(client, db_session):
    db_session.add(Item(name="before-ddl"))
    await db_session.commit()
    assert (await client.get("/items")).json() == ["before-ddl"]  # the lifespan ran create_all
    assert (await db_session.execute(text("SELECT COUNT(*) FROM visits"))).scalar() == 0


async def test_2_nothing_committed(client, db_session):
    assert await db_session.scalar(select(func.count(Item.id))) == 0
    assert (await client.get("/items")).json() == []
"""


def test_app_ddl_never_ends_the_tests_transaction(project: Project) -> None:
    project.write(DDL_TESTS, conftest="import tbapp.lifespan  # noqa: F401\n")
    (project.pytester.path / "tbapp" / "lifespan.py").write_text(LIFESPAN_CREATE_ALL)
    project.run().assert_outcomes(passed=2)


ALTER_IN_TEST = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio


async def test_alter(db_session):
    await db_session.execute(text("ALTER TABLE items ADD COLUMN extra INTEGER"))
"""


def test_other_ddl_on_mariadb_is_one_clear_failure(pytester: pytest.Pytester) -> None:
    from tests.conftest import SERVERS

    project = Project(pytester, SERVERS["mariadb"])
    project.write(ALTER_IN_TEST)
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*`ALTER TABLE items ADD COLUMN extra INTEGER` inside a test on MariaDB/MySQL would "
            "commit the test's transaction*",
            '*@pytest.mark.testbed(isolation="truncate")*',
        ]
    )


FOREIGN = """
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from fastapi_testbed.binding import _ORIGINAL_CREATE_ENGINE  # as if made before the plugin loaded


def test_unbound_engine_cannot_reach_a_real_database(testbed):
    url = make_url("{url}")
    engine = _ORIGINAL_CREATE_ENGINE(url)
    with pytest.raises(Exception, match="refusing a connection to '{name}'"):
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE written (id INTEGER)"))


def test_unbound_engine_may_reach_a_test_database(testbed):
    url = testbed.url.set(drivername=testbed.url.get_backend_name())
    engine = _ORIGINAL_CREATE_ENGINE(url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_engines_made_before_the_plugin_are_refused_real_databases(
    pytester: pytest.Pytester, backend: str
) -> None:
    from tests.conftest import SERVERS

    server = SERVERS[backend]
    if server is None:
        target, name = f"sqlite:///{pytester.path / 'real.db'}", "real"
    else:
        target, name = (
            server.replace("postgresql://", "postgresql+psycopg://") + "postgres",
            ("postgres"),
        )
    project = Project(pytester, server)
    project.write(FOREIGN.replace("{url}", target).replace("{name}", name), flavour="sync")
    project.run().assert_outcomes(passed=2)
    assert not Path(pytester.path / "real.db").exists()  # SQLite would have created the file


DISPOSING_LIFESPAN = """
from contextlib import asynccontextmanager

from tbapp.db import engine
import tbapp.main as main


@asynccontextmanager
async def lifespan(app):
    yield
    await engine.dispose()  # as many apps do at shutdown, here inside every test


main.app.router.lifespan_context = lifespan
"""

USES_THE_APP = """
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("n", range(3))
async def test_request(client, n):
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
"""


def test_engine_disposed_by_the_app_leaks_no_connection(project: Project) -> None:
    # the test's connection came from the pool the app disposed: it is closed, not abandoned
    project.write(USES_THE_APP, conftest="import tbapp.lifespan  # noqa: F401\n")
    (project.pytester.path / "tbapp" / "lifespan.py").write_text(DISPOSING_LIFESPAN)
    result = project.run("-W", "error::pytest.PytestUnraisableExceptionWarning", subprocess=True)
    result.assert_outcomes(passed=3)
    assert "Unraisable" not in result.stdout.str() + result.stderr.str()


DISPOSING_LIFESPAN_ANY = """
import inspect
from contextlib import asynccontextmanager

from tbapp.db import engine
import tbapp.main as main


@asynccontextmanager
async def lifespan(app):
    yield
    disposed = engine.dispose()  # as many apps do at shutdown
    if inspect.isawaitable(disposed):
        await disposed


main.app.router.lifespan_context = lifespan
"""

DISPOSED_BETWEEN_TESTS = """
import gc
import inspect
import os

from sqlalchemy import text

gc.disable()  # a connection left in a disposed pool would wait for the cycle collector: seen now
COUNTS = []


def read(testbed):
    result = testbed.connection.execute(text("select 1"))
    if inspect.isawaitable(result):
        testbed.run(result)


def open_connections(testbed):
    url = testbed.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = os.path.realpath(url.database)
        links = (os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd"))
        return sum(1 for link in links if link == path)
    if backend == "postgresql":
        import psycopg

        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        server = dict(host=url.host, port=url.port, user=url.username, dbname="postgres")
        with psycopg.connect(**server) as c:
            return c.execute(query, (url.database,)).fetchone()[0]
    import pymysql

    query = "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = %s"
    c = pymysql.connect(host=url.host, port=url.port or 3306, user=url.username)
    try:
        with c.cursor() as cursor:
            cursor.execute(query, (url.database,))
            return cursor.fetchone()[0]
    finally:
        c.close()


def test_1_reads(testbed):
    read(testbed)
    COUNTS.append(open_connections(testbed))


def test_2_a_request_that_reads_nothing(sync_client):
    # the lifespan's shutdown disposes the engine while test 1's connection waits, kept
    assert sync_client.get("/nothing-here").status_code == 404


def test_3_reads_again(testbed):
    read(testbed)
    COUNTS.append(open_connections(testbed))
    assert COUNTS[1] == COUNTS[0], COUNTS  # not one more: the kept connection was closed
    gc.enable()
"""


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_engine_disposed_between_tests_leaks_no_connection(project: Project, flavour: str) -> None:
    """The connection kept for the next test came from a pool the app has since disposed (a
    request that read nothing, then the lifespan's shutdown): it is closed, not left open in
    the old pool until the garbage collector finds it."""
    project.write(
        DISPOSED_BETWEEN_TESTS, conftest="import tbapp.lifespan  # noqa: F401\n", flavour=flavour
    )
    (project.pytester.path / "tbapp" / "lifespan.py").write_text(DISPOSING_LIFESPAN_ANY)
    result = project.run("-W", "error::pytest.PytestUnraisableExceptionWarning", subprocess=True)
    result.assert_outcomes(passed=3)


ELSEWHERE_ENV = """
from alembic import context
from sqlalchemy import create_engine

engine = create_engine("sqlite:///./somewhere_else.db")  # not the database being built
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_env_py_reaching_another_database_is_one_clear_error(sqlite_project: Project) -> None:
    from tests.core.test_database import ALEMBIC_INI

    sqlite_project.write("def test_x(db_session):\n    pass\n")
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'metadata = "tbapp.models:Base.metadata"', 'alembic_ini = "alembic.ini"'
        )
    )
    (sqlite_project.pytester.path / "alembic.ini").write_text(ALEMBIC_INI)
    (sqlite_project.pytester.path / "migrations" / "versions").mkdir(parents=True)
    (sqlite_project.pytester.path / "migrations" / "env.py").write_text(ELSEWHERE_ENV)
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the run stops before any test
    result.stderr.fnmatch_lines(
        [
            "*while building the test database *test_tbapp.db, a connection went to "
            "*test_somewhere_else.db, another test database*",
            "*?tool.testbed? engine = *",
        ]
    )
    assert not (sqlite_project.pytester.path / "somewhere_else.db").exists()


MIGRATION_WITHOUT_ITEMS = """
revision = "0001"
down_revision = None


def upgrade():
    pass  # the model `items` was added without a migration


def downgrade():
    pass
"""


def test_schema_lacking_a_declared_table_stops_with_one_message(project: Project) -> None:
    from tests.core.test_database import ALEMBIC_ENV, ALEMBIC_INI

    project.write("def test_x(db_session):\n    pass\n")
    pyproject = project.pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'metadata = "tbapp.models:Base.metadata"',
            'metadata = "tbapp.models:Base.metadata"\nalembic_ini = "alembic.ini"',
        )
    )
    (project.pytester.path / "alembic.ini").write_text(ALEMBIC_INI)
    versions = project.pytester.path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions.parent / "env.py").write_text(ALEMBIC_ENV)
    (versions / "0001_nothing.py").write_text(MIGRATION_WITHOUT_ITEMS)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the run stops before any test
    result.stderr.fnmatch_lines(
        ["*after alembic upgrade head (*alembic.ini), the test database * lacks items, which*"]
    )


def test_metadata_with_no_tables_says_the_models_were_never_imported(
    sqlite_project: Project,
) -> None:
    sqlite_project.write("def test_x(db_session):\n    pass\n")
    (sqlite_project.pytester.path / "tbapp" / "base.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
    )
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("tbapp.models:", "tbapp.base:"))
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*metadata = 'tbapp.base:Base.metadata' holds no tables: the module that defines*"]
    )


NO_WARNINGS = """
import pytest
from fastapi.testclient import TestClient  # as suites type their sync_client: warns on httpx
from sqlalchemy import func, select
from tbapp.models import Item


@pytest.mark.anyio
async def test_async_client(client, db_session):
    assert (await client.post("/items", json={"name": "a"})).status_code == 201
    assert await db_session.scalar(select(func.count(Item.id))) == 1


def test_sync_client(sync_client):
    assert isinstance(sync_client, TestClient)
    assert sync_client.get("/items").json() == []
"""


def test_a_project_that_turns_warnings_into_errors_passes(sqlite_or_pg_project: Project) -> None:
    # Starlette warns when its TestClient runs on httpx; the plugin brings httpx2
    sqlite_or_pg_project.write(NO_WARNINGS, ini='filterwarnings = ["error"]')
    sqlite_or_pg_project.run().assert_outcomes(passed=2)


RAW_CONNECTIONS = """
import asyncpg
import psycopg
import pymysql
import pytest


def test_sync_drivers(testbed):
    with pytest.raises(Exception, match="refusing a raw .* connection to 'appdb'"):
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/appdb")
    with pytest.raises(Exception, match="refusing a raw .* connection to 'appdb'"):
        pymysql.connect(host="127.0.0.1", user="root", database="appdb")


@pytest.mark.anyio
async def test_async_drivers(testbed):
    with pytest.raises(Exception, match="refusing a raw .* connection to 'appdb'"):
        await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/appdb")
    with pytest.raises(Exception, match="refusing a raw .* connection to 'appdb'"):
        await psycopg.AsyncConnection.connect(dbname="appdb", host="127.0.0.1", user="postgres")


def test_the_test_database_is_reachable_raw(testbed):
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=testbed.url.database) as raw:
        assert raw.execute("SELECT 1").fetchone() == (1,)
"""


def test_raw_driver_connections_reach_only_test_databases(pytester: pytest.Pytester) -> None:
    from tests.conftest import SERVERS

    project = Project(pytester, SERVERS["postgresql"])
    project.write(RAW_CONNECTIONS, flavour="sync")
    project.run().assert_outcomes(passed=3)


FACTORY = """
from sqlalchemy.ext.asyncio import create_async_engine

CALLS = []


def get_engine():  # no cache: each call would make another engine
    CALLS.append(1)
    return create_async_engine("sqlite+aiosqlite:///./factory.db")
"""

FACTORY_TESTS = """
import pytest
from tbapp.factory import CALLS


@pytest.mark.anyio
async def test_the_factory_ran_once(testbed):
    assert testbed.engine.url.database.endswith("test_factory.db")  # the main engine
    assert len(CALLS) == 1  # the header, the runtime and the fixtures shared one call
"""


def test_engine_factory_named_in_the_table_is_called_once(sqlite_project: Project) -> None:
    sqlite_project.write(FACTORY_TESTS, extra='engine = "tbapp.factory:get_engine()"')
    (sqlite_project.pytester.path / "tbapp" / "factory.py").write_text(FACTORY)
    sqlite_project.run().assert_outcomes(passed=1)
