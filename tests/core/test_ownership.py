"""The plugin touches only databases it made: a marker on each, and a rebuild only when needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fastapi_testbed.ownership import Marker
from tests.conftest import Project

COUNT_ITEMS = """
import pytest
from sqlalchemy import func, select

from tbapp.models import Item


@pytest.mark.anyio
async def test_reads(db_session):
    print("ITEMS", await db_session.scalar(select(func.count()).select_from(Item)))
"""

COUNT_ITEMS_SYNC = """
from sqlalchemy import func, select

from tbapp.models import Item


def test_reads(db_session):
    print("ITEMS", db_session.scalar(select(func.count()).select_from(Item)))
"""


def _admin_url(server: str, database: str | None = None) -> str:
    url = make_url(server)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg", database=database or "postgres")
    else:
        url = url.set(drivername="mysql+pymysql", database=database)
    return url.render_as_string(hide_password=False)


def _execute(url: str, *statements: str) -> list[tuple[object, ...]]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            rows: list[tuple[object, ...]] = []
            for statement in statements:
                result = connection.execute(text(statement))
                if result.returns_rows:
                    rows = [tuple(row) for row in result]
            return rows
    finally:
        engine.dispose()


class Foreign:
    """A database named like the test database, made by hand, with a row in it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.server = project.server
        # a name of its own, so that no other run on the server can be holding it
        self.name = "test_tbapp" if self.server is None else f"test_tbown_{os.getpid()}"
        self.sqlite = project.pytester.path / ".pytest_cache" / "testbed" / "test_tbapp.db"
        if self.server is not None:  # the server URL names the main test database
            project.server = self.server + self.name

    def make(self) -> None:
        if self.server is None:
            self.sqlite.parent.mkdir(parents=True, exist_ok=True)
            _execute(
                f"sqlite:///{self.sqlite}",
                "CREATE TABLE precious (id INTEGER)",
                "INSERT INTO precious VALUES (7)",
            )
            return
        self.drop()
        _execute(_admin_url(self.server), f"CREATE DATABASE {self.name}")
        _execute(
            _admin_url(self.server, self.name),
            "CREATE TABLE precious (id INTEGER)",
            "INSERT INTO precious VALUES (7)",
        )

    def rows(self) -> list[tuple[object, ...]]:
        if self.server is None:
            return _execute(f"sqlite:///{self.sqlite}", "SELECT id FROM precious")
        return _execute(_admin_url(self.server, self.name), "SELECT id FROM precious")

    def marker(self) -> Marker | None:
        if self.server is None:
            path = self.sqlite.with_name("test_tbapp.testbed")
            return Marker.loads(path.read_text()) if path.exists() else None
        if make_url(self.server).get_backend_name() == "postgresql":
            query = "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            query += f"WHERE datname = '{self.name}'"
        else:
            query = "SELECT schema_comment FROM information_schema.schemata "
            query += f"WHERE schema_name = '{self.name}'"
        rows = _execute(_admin_url(self.server), query)
        return Marker.loads(str(rows[0][0])) if rows else None

    def drop(self) -> None:
        if self.server is None:
            self.sqlite.unlink(missing_ok=True)
            return
        force = " WITH (FORCE)" if "postgresql" in self.server else ""
        _execute(_admin_url(self.server), f"DROP DATABASE IF EXISTS {self.name}{force}")


@pytest.fixture
def foreign(project: Project) -> Iterator[Foreign]:
    made = Foreign(project)
    yield made
    made.drop()


def test_a_database_the_plugin_did_not_make_is_never_touched(
    project: Project, foreign: Foreign
) -> None:
    foreign.make()
    project.write(COUNT_ITEMS)
    # SQLite files are in the run's own folder, or in .pytest_cache under --reuse-db
    for options in ([], ["--reuse-db"]) if project.server else (["--reuse-db"],):
        result = project.run(*options)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                f"*a database named '{foreign.name}' already exists at *, and fastapi-testbed "
                "did not create it*left untouched.",
                "*run once with --create-db to let the plugin take it over*",
            ]
        )
        assert "Traceback" not in result.stderr.str()
        assert foreign.rows() == [(7,)]  # its table and row are still there
        assert foreign.marker() is None


def test_create_db_takes_a_foreign_database_over(project: Project, foreign: Foreign) -> None:
    foreign.make()
    project.write(COUNT_ITEMS)
    result = project.run("-s", "--reuse-db", "--create-db")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"*{foreign.name}: not made by fastapi-testbed; taken over*", "*ITEMS 0*"]
    )
    marker = foreign.marker()
    assert marker is not None and marker.keep and marker.built
    result = project.run("-s", "--reuse-db")  # from now on it is the plugin's
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{foreign.name}: reused, its schema unchanged*"])
    if project.server:  # without --reuse-db: made afresh, then dropped
        result = project.run("-s")
        result.assert_outcomes(passed=1)
        assert foreign.marker() is None


def test_every_database_the_plugin_makes_carries_its_marker(
    project: Project, foreign: Foreign
) -> None:
    project.write(
        """
        def test_marked(db_session, testbed):
            claim = testbed.database.claim
            exists, marker = claim.server.lookup(claim.name)
            print("MARKER", exists, marker)
        """,
        flavour="sync",
    )
    result = project.run("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MARKER True Marker(keep=False, built=True, fingerprint='*'*"])


MIGRATION = """
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = None


def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
        {extra}
    )
    with open("migrations.log", "a") as log:
        log.write("{revision}\\n")
"""

ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
"""

ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.",
                            poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""


def _migrations(project: Project, revision: str, extra: str = "") -> None:
    folder = project.pytester.path / "migrations"
    versions = folder / "versions"
    if versions.exists():
        for old in versions.glob("*.py"):
            old.unlink()
    versions.mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(ENV)
    (folder / "script.py.mako").write_text("")
    (versions / f"{revision}.py").write_text(MIGRATION.format(revision=revision, extra=extra))
    (project.pytester.path / "alembic.ini").write_text(ALEMBIC_INI)


def _migrated(project: Project) -> list[str]:
    log = project.pytester.path / "migrations.log"
    runs = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return runs


def test_reuse_knows_what_built_the_database(project: Project, foreign: Foreign) -> None:
    project.write(COUNT_ITEMS_SYNC, flavour="sync", extra='alembic_ini = "alembic.ini"')
    _migrations(project, "aaa")
    result = project.run("-s", "--reuse-db")
    result.assert_outcomes(passed=1)
    assert _migrated(project) == ["aaa"]

    result = project.run("-s", "--reuse-db")  # nothing changed: no schema work at all
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{foreign.name}: reused, its schema unchanged*"])
    assert _migrated(project) == []

    _migrations(project, "bbb")  # another checkout: its migrations do not match the database
    result = project.run("-s", "--reuse-db")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{foreign.name}: its models or migrations changed*; rebuilt it"])
    assert _migrated(project) == ["bbb"]

    models = project.pytester.path / "tbapp" / "models.py"  # a model changed, no migration
    models.write_text(
        models.read_text() + "\n    note: Mapped[str | None] = mapped_column(String(20))\n"
    )
    result = project.run("-s", "--reuse-db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR or result.ret == 1
    result.stdout.fnmatch_lines([f"*{foreign.name}: its models or migrations changed*; rebuilt it"])
    output = result.stdout.str() + result.stderr.str()
    assert "lacks items.note, which the app's metadata declares" in output
    assert _migrated(project) == ["bbb"]  # rebuilt, and still short of the model

    _migrations(project, "ccc", extra='sa.Column("note", sa.String(20)),')
    result = project.run("-s", "--reuse-db")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{foreign.name}: its last build did not finish; rebuilt it"])
    assert _migrated(project) == ["ccc"]


def test_sqlite_files_live_in_a_folder_of_the_run(sqlite_project: Project) -> None:
    sqlite_project.write(
        """
        def test_where(testbed):
            print("FOLDER", testbed.url.database)
        """
    )
    result = sqlite_project.run("-s")
    result.assert_outcomes(passed=1)
    path = Path(next(line.split()[-1] for line in result.outlines if "FOLDER" in line))
    assert path.parent.name.startswith("run-") and path.parent.parent.name.startswith(
        "fastapi-testbed-"
    )
    assert not path.parent.exists()  # removed at the end


@pytest.mark.parametrize(
    ("app", "test"),
    [
        ("postgresql://u@127.0.0.1/test_shop", "postgresql+psycopg://u@127.0.0.1:5432/test_shop"),
        ("postgresql://u@localhost/test_shop", "postgresql+asyncpg://u@127.0.0.1:5432/test_shop"),
        ("postgresql://u@[::1]:5432/test_shop", "postgresql://u@localhost/test_shop"),
        ("postgresql:///test_shop?host=/var/run/postgresql", "postgresql://u@127.0.0.1/test_shop"),
        ("mysql+pymysql://root@LOCALHOST/test_shop", "mysql+aiomysql://r@127.0.0.1:3306/test_shop"),
        (
            "mysql://root@localhost/test_shop?unix_socket=/run/mysqld/mysqld.sock",
            "mysql://root@127.0.0.1/test_shop",
        ),
    ],
)
def test_the_apps_database_is_recognised_however_its_url_is_spelled(app: str, test: str) -> None:
    from fastapi_testbed.errors import TestbedError
    from fastapi_testbed.urls import check_test_database

    with pytest.raises(TestbedError, match="it is the database the app uses outside tests"):
        check_test_database(make_url(test), "drop", app_urls=[("env DATABASE_URL", app)])


def test_the_machines_own_name_is_this_machine() -> None:
    import socket

    from fastapi_testbed.urls import identity

    own = make_url(f"postgresql://u@{socket.gethostname()}/test_shop")
    assert identity(own) == identity(make_url("postgresql://u@127.0.0.1:5432/test_shop"))
    other = make_url("postgresql://u@db.example.com/test_shop")
    assert identity(other) != identity(make_url("postgresql://u@127.0.0.1:5432/test_shop"))


@pytest.mark.parametrize(
    "server",
    ["postgresql://no_such_role_tb@127.0.0.1:5432/", "mysql://no_such_user_tb@127.0.0.1:3306/"],
)
def test_a_refused_login_is_named_as_such(sqlite_project: Project, server: str) -> None:
    sqlite_project.write(COUNT_ITEMS)
    result = sqlite_project.run("--testbed-db-url", server)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*the database server at * (from --testbed-db-url) refused the login:",
            "*Check the user name and password in --testbed-db-url*",
        ]
    )
    assert "Start the server" not in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


BAD_MIGRATION = """
from alembic import op

revision = "bad"
down_revision = None


def upgrade():
    op.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50))")
    op.execute("INSERT INTO items (no_such_column) VALUES (1)")
"""


def test_a_migrations_sql_error_is_not_called_an_unreachable_server(project: Project) -> None:
    # SQLite and pymysql raise OperationalError for SQL errors: the server was there all along
    project.write(COUNT_ITEMS_SYNC, flavour="sync", extra='alembic_ini = "alembic.ini"')
    _migrations(project, "bad")
    versions = project.pytester.path / "migrations" / "versions"
    (versions / "bad.py").write_text(BAD_MIGRATION)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*building the schema of * with alembic upgrade head failed:", "*no_such_column*"]
    )
    assert "could not connect" not in result.stderr.str()
