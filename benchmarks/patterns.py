"""The ways of isolating tests that the benchmark compares, each as the conftest.py it needs.

Every pattern gives the tests the same two fixtures, ``db_session`` (an ``AsyncSession`` on the
test database) and ``client`` (an httpx client on the app), so one test module serves them all:

* ``plugin``: fastapi-testbed, no conftest at all (anyio's backend aside);
* ``hand``: what a careful engineer writes today: an async engine per session, a connection per
  test in a transaction rolled back at the end, the app's own sessionmaker bound to it with
  ``join_transaction_mode="create_savepoint"`` (SQLAlchemy 2's "Joining a Session into an
  External Transaction" recipe, with its SQLite BEGIN recipe), httpx ``ASGITransport`` with
  asgi-lifespan's ``LifespanManager``, every fixture on one event loop;
* ``sqla``: pytest-sqla, the PyPI plugin that packages that recipe, used as its README shows for
  FastAPI (the app's session dependency overridden with ``sqla_async_sessionmaker``);
* ``floor``: no isolation at all: one pooled session for the whole run, on one loop;
* ``seed000``: the seed-000 conftest brought up to today's libraries: a new engine with
  ``create_all`` and ``drop_all`` for every test, ``get_db`` overridden with the test's session;
* ``cleanup``: one shared engine, the app committing for real, every table emptied after each test.

Each conftest comes in two runners: pytest-asyncio (fixtures and tests on the session's loop) and
anyio (a session-scoped ``anyio_backend``, which keeps anyio's runner, and its loop, for the run).
The hand-written patterns create their own ``test_`` database (named by ``BENCH_DATABASE_URL``)
and drop it at the end; pytest-sqla is given one, as its users give it theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import dedent


@dataclass(frozen=True)
class Runner:
    """How async tests run: the marker, the pytest options, and how fixtures are declared."""

    name: str
    title: str
    marker: str
    ini: str  # lines of [tool.pytest.ini_options]
    options: tuple[str, ...]
    header: str  # the start of every conftest: `fixture` and `session_fixture` for this runner


ANYIO_BACKEND = """
    import pytest


    @pytest.fixture(scope="session")
    def anyio_backend():
        return "asyncio"  # one backend for the whole run
    """

# anyio closes its runner (its loop) when no async fixture holds it: without this, the empty
# test, every per-test figure's baseline, would pay for a new loop that the floor's `select 1`,
# run while its session fixture holds the runner, does not. The plugin holds it itself.
ANYIO_RUNNER_KEPT = """


    @pytest.fixture(scope="session", autouse=True)
    async def one_runner_for_the_run():
        yield
    """

RUNNERS = {
    "asyncio": Runner(
        name="asyncio",
        title="pytest-asyncio",
        marker="asyncio",
        ini='asyncio_default_fixture_loop_scope = "session"\n'
        'asyncio_default_test_loop_scope = "session"\n',
        options=(),
        header="""
            import pytest
            import pytest_asyncio

            # One event loop for the run: every async fixture and test on the session's loop.
            session_fixture = pytest_asyncio.fixture(scope="session", loop_scope="session")
            fixture = pytest_asyncio.fixture(loop_scope="session")
            """,
    ),
    "anyio": Runner(
        name="anyio",
        title="anyio",
        marker="anyio",
        ini="",
        options=("-p", "no:asyncio"),  # as in a project that has only anyio
        header=dedent(ANYIO_BACKEND)
        + "\n\n"
        + 'session_fixture = pytest.fixture(scope="session")\nfixture = pytest.fixture\n'
        + dedent(ANYIO_RUNNER_KEPT),
    ),
}


# --- what the hand-written patterns share ---------------------------------------------------------

APP_IMPORTS = """
    import os
    from contextlib import asynccontextmanager
    from pathlib import Path

    from asgi_lifespan import LifespanManager
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy import event, make_url
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.pool import NullPool

    TEST_DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
    if "PYTEST_XDIST_WORKER" in os.environ:  # one database per pytest-xdist worker
        _url = make_url(TEST_DATABASE_URL)
        _url = _url.set(database=f"{_url.database}_{os.environ['PYTEST_XDIST_WORKER']}")
        TEST_DATABASE_URL = _url.render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = TEST_DATABASE_URL  # before the app builds its engine

    from bench_app.db import SessionLocal, get_db  # noqa: E402
    from bench_app.db import engine as app_engine  # noqa: E402
    from bench_app.main import app  # noqa: E402
    from bench_app.models import Base  # noqa: E402
    """

SERVER_DATABASE = '''
    @asynccontextmanager
    async def server_database(url):
        """A fresh test database: created on its server (a SQLite file: removed), dropped after."""
        url = make_url(url)
        if url.get_backend_name() == "sqlite":
            Path(url.database).unlink(missing_ok=True)
            yield
            Path(url.database).unlink(missing_ok=True)
            return
        assert url.database.startswith("test_")
        if url.get_backend_name() == "postgresql":
            admin_url, name = url.set(database="postgres"), f'"{url.database}"'
            force = " WITH (FORCE)"
        else:
            admin_url, name, force = url.set(database="mysql"), f"`{url.database}`", ""
        admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
            await connection.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            yield
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
            await admin.dispose()
    '''

SCHEMA_BY = {
    "metadata": """
        def build_schema(connection):
            Base.metadata.create_all(connection)
        """,
    "alembic": '''
        from alembic import command  # noqa: E402
        from alembic.config import Config  # noqa: E402


        def build_schema(connection):
            """alembic upgrade head on this connection (Alembic's cookbook, sharing a connection)"""
            config = Config(str(Path(__file__).parents[1] / "alembic.ini"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        ''',
}

# --- the patterns ---------------------------------------------------------------------------------

HAND = '''
    def sqlite_savepoints(engine):
        """SQLAlchemy's SQLite recipe: the driver's own BEGIN off, so SAVEPOINT works."""

        @event.listens_for(engine.sync_engine, "connect")
        def do_connect(dbapi_connection, connection_record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def do_begin(connection):
            connection.exec_driver_sql("BEGIN")


    @session_fixture
    async def engine():
        async with server_database(TEST_DATABASE_URL):
            engine = create_async_engine(TEST_DATABASE_URL)
            if engine.dialect.name == "sqlite":
                sqlite_savepoints(engine)
            async with engine.begin() as connection:
                await connection.run_sync(build_schema)
            yield engine
            await engine.dispose()
            await app_engine.dispose()


    DEFAULT_JOIN = "conservative_savepoint"


    @fixture
    async def connection(engine):
        """A connection per test, its transaction rolled back; the app's sessions join it."""
        async with engine.connect() as connection:
            transaction = await connection.begin()
            SessionLocal.configure(bind=connection, join_transaction_mode="create_savepoint")
            try:
                yield connection
            finally:
                SessionLocal.configure(bind=app_engine, join_transaction_mode=DEFAULT_JOIN)
                await transaction.rollback()


    @fixture
    async def db_session(connection):
        async with SessionLocal() as session:
            yield session


    @fixture
    async def client(connection):
        async with LifespanManager(app) as manager:
            transport = ASGITransport(app=manager.app)
            async with AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
    '''

FLOOR = '''
    @session_fixture
    async def database():
        async with server_database(TEST_DATABASE_URL):
            async with app_engine.begin() as connection:
                await connection.run_sync(build_schema)
            yield
            await app_engine.dispose()


    @session_fixture
    async def db_session(database):
        """One session for the whole run, on the app's pooled engine: nothing is isolated."""
        async with SessionLocal() as session:
            yield session
    '''

SEED000 = """
    @session_fixture
    async def database():
        async with server_database(TEST_DATABASE_URL):
            yield
            await app_engine.dispose()


    @fixture
    async def db_session(database):
        test_engine = create_async_engine(TEST_DATABASE_URL)
        sessions = async_sessionmaker(test_engine, expire_on_commit=False)
        async with test_engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with sessions() as session:
            yield session
        async with test_engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
        await test_engine.dispose()


    @fixture
    async def client(db_session):
        app.dependency_overrides[get_db] = lambda: db_session
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            yield http
        app.dependency_overrides.clear()
    """

CLEANUP = """
    @session_fixture
    async def database():
        async with server_database(TEST_DATABASE_URL):
            async with app_engine.begin() as connection:
                await connection.run_sync(build_schema)
            yield
            await app_engine.dispose()


    @fixture
    async def empty_tables(database):
        yield
        async with app_engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())


    @fixture
    async def db_session(empty_tables):
        async with SessionLocal() as session:
            yield session


    @fixture
    async def client(empty_tables):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            yield http
    """

SQLA = """
    @pytest.fixture(scope="session")
    def sqla_session_options():
        return {"expire_on_commit": False}  # as the app's own sessionmaker


    @fixture
    async def client(sqla_async_sessionmaker):
        async def override():
            async with sqla_async_sessionmaker() as session:
                yield session

        app.dependency_overrides[get_db] = override
        async with LifespanManager(app) as manager:
            transport = ASGITransport(app=manager.app)
            async with AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
        app.dependency_overrides.pop(get_db, None)


    @pytest.fixture
    def db_session(sqla_async_session):
        return sqla_async_session
    """


@dataclass(frozen=True)
class Pattern:
    """One way of isolating tests: its conftest (``None``: the plugin) and what it measures."""

    name: str
    title: str
    body: str | None
    kinds: tuple[str, ...] = ("empty", "select", "api")
    plugin: str | None = None  # "testbed" or "sqla": the pytest plugin it needs loaded
    given_database: bool = False  # the benchmark creates its database (pytest-sqla never does)
    test_share: int = 1  # runs 1/test_share of the tests: a pattern 30 times slower needs fewer
    imports: str = APP_IMPORTS  # the top of its conftest
    own_database: bool = True  # a hand-written conftest creates and drops its database

    def tests(self, tests: int) -> int:
        return max(4, tests // self.test_share)

    @property
    def hand_written(self) -> bool:
        return self.body is not None and self.plugin is None and self.own_database

    def conftest(self, runner: Runner, *, schema: str = "metadata") -> str | None:
        """The text of tests/conftest.py for this runner, or None where none is needed."""
        if self.body is None:
            return dedent(ANYIO_BACKEND).lstrip() if runner.name == "anyio" else None
        own_database = (SERVER_DATABASE, SCHEMA_BY[schema]) if self.hand_written else ()
        parts = (runner.header, self.imports, *own_database, self.body)
        return "\n\n\n".join(dedent(part).strip("\n") for part in parts if part) + "\n"


PATTERNS = {
    pattern.name: pattern
    for pattern in (
        Pattern("plugin", "fastapi-testbed", None, plugin="testbed"),
        Pattern("hand", "hand-written savepoint conftest", HAND),
        Pattern("sqla", "pytest-sqla", SQLA, plugin="sqla", given_database=True),
        Pattern("floor", "floor: no isolation", FLOOR, kinds=("empty", "select")),
        Pattern("seed000", "seed 000: engine + create_all per test", SEED000, test_share=5),
        Pattern("cleanup", "shared engine, DELETE after each test", CLEANUP),
    )
}
