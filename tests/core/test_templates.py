"""xdist_template: under pytest-xdist the schema is built once, each worker's database copied.

Each run below uses a database name of its own (the test process's pid), so that the
templates it finds on the server, or in SQLite's folder, are its own.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fastapi_testbed.ownership import Marker
from tests.conftest import SERVERS, Project, build
from tests.core.test_database import ALEMBIC_ENV

COUNTED_MODELS = """
import os

from sqlalchemy import event


@event.listens_for(Base.metadata, "after_create")
def counted(target, connection, **kw):
    with open(os.environ["TB_LOG_DIR"] + "/builds.log", "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + "\\n")
"""

ALEMBIC_INI = """
[alembic]
script_location = migrations
"""

ENV_SYNC = """
import os

from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

# An env.py that migrates through the app's own engine: its pool keeps the connection open
ENV_APP_ENGINE = """
from alembic import context

from tbapp.db import engine

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

REVISION = """
import os

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    with open(os.environ["TB_LOG_DIR"] + "/builds.log", "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + "\\n")
    items = op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
        sa.Column("note", sa.String(20), server_default="100%"),  # a % in SHOW CREATE TABLE
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id")),
    )
    op.bulk_insert(items, [{"name": "from-the-migration"}])
    {extra}
"""

TESTS = """
import os

import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("n", range(8))
async def test_api(client, n):
    with open(os.environ["TB_LOG_DIR"] + "/ran.log", "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + " " + os.environ["DATABASE_URL"] + "\\n")
    assert (await client.post("/items", json={"name": f"n{n}"})).status_code == 201
    names = (await client.get("/items")).json()
    assert names == {seeded} + [f"n{n}"]
"""


def template_project(
    project: Project,
    log_dir: Path,
    *,
    schema: str,
    flavour: str,
    env: str = "",
    extra: str = "",
    template: bool = True,
) -> Project:
    seeded = '["from-the-migration"]' if schema == "alembic" else "[]"
    setting = "xdist_template = true" if template else ""
    build(project, TESTS.replace("{seeded}", seeded), flavour=flavour, extra=setting)
    path = project.pytester.path
    if schema == "metadata":
        models = path / "tbapp" / "models.py"
        models.write_text(models.read_text() + textwrap.dedent(COUNTED_MODELS))
    else:
        pyproject = path / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                'metadata = "tbapp.models:Base.metadata"', 'alembic_ini = "alembic.ini"'
            )
        )
        (path / "alembic.ini").write_text(ALEMBIC_INI)
        versions = path / "migrations" / "versions"
        versions.mkdir(parents=True)
        default_env = ALEMBIC_ENV if flavour == "async" else ENV_SYNC
        (path / "migrations" / "env.py").write_text(textwrap.dedent(env or default_env))
        revision = textwrap.dedent(REVISION).replace("{extra}", extra or "pass")
        (versions / "0001_items.py").write_text(revision)
    project.pytester._monkeypatch.setenv("TB_LOG_DIR", str(log_dir))  # workers inherit it
    return project


def lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []


def on_server(project: Project, pattern: str) -> tuple[Engine, list[str]]:
    """An engine on the project's server, and the names of its databases matching ``pattern``."""
    assert project.server is not None
    url = make_url(project.server)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg", database="postgres")
        query = "SELECT datname FROM pg_database WHERE datname LIKE :pattern"
    else:
        url = url.set(drivername="mysql+pymysql")._replace(database=None)
        query = (
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :pattern"
        )
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        names = [row[0] for row in connection.execute(text(query), {"pattern": pattern})]
    return engine, names


def templates_of(project: Project, stem: str) -> set[str]:
    """The names of the databases (or SQLite files) of the templates of ``stem``."""
    assert project.server is not None
    if project.server.startswith("sqlite"):
        parent = Path(tempfile.gettempdir()) / f"fastapi-testbed-{os.getuid()}" / "templates"
        folders = [parent, project.pytester.path / ".pytest_cache" / "testbed"]
        return {p.stem for f in folders for p in f.glob(f"{stem}_tpl_*.db")}
    engine, names = on_server(project, f"{stem}\\_tpl\\_%")
    engine.dispose()
    return set(names)


def drop_all(project: Project, stem: str) -> None:
    """Drop what a --reuse-db run kept: the workers' databases and the templates."""
    assert project.server is not None
    if project.server.startswith("sqlite"):
        return  # in pytester's own folder (the cache): removed with it
    engine, names = on_server(project, f"{stem}\\_%")
    try:
        with engine.connect() as connection:
            for name in names:
                assert name.startswith("test_tbtpl_")
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        engine.dispose()


def named(project: Project, stem: str) -> Project:
    """The project's main test database named ``stem`` (SQLite: a file of that name)."""
    project.server = (project.server or "sqlite:///") + (stem if project.server else f"{stem}.db")
    return project


@pytest.mark.parametrize(("schema", "flavour"), [("metadata", "async"), ("alembic", "sync")])
def test_the_schema_is_built_once_and_copied_to_each_worker(
    project: Project, tmp_path: Path, schema: str, flavour: str
) -> None:
    stem = f"test_tbtpl_{os.getpid()}"
    template_project(named(project, stem), tmp_path, schema=schema, flavour=flavour)
    result = project.run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)
    workers = {line.split()[0]: line.split()[1] for line in lines(tmp_path / "ran.log")}
    assert set(workers) == {"gw0", "gw1"}, workers  # both built a database, and used it
    assert len(lines(tmp_path / "builds.log")) == 1  # one of them by building the schema
    assert templates_of(project, stem) == set()  # without --reuse-db: dropped at the end


def test_the_header_says_the_template_is_on(sqlite_project: Project, tmp_path: Path) -> None:
    template_project(sqlite_project, tmp_path, schema="metadata", flavour="async")
    result = sqlite_project.run("--co")
    result.stdout.fnmatch_lines(
        ["testbed: test databases on *; create and drop; under xdist, the schema built once *"]
    )


def test_without_the_setting_each_worker_builds_its_own(
    sqlite_or_pg_project: Project, tmp_path: Path
) -> None:
    stem = f"test_tbtpl_{os.getpid()}"
    project = named(sqlite_or_pg_project, stem)
    template_project(project, tmp_path, schema="metadata", flavour="async", template=False)
    project.run("-n", "2", subprocess=True).assert_outcomes(passed=8)
    assert len(lines(tmp_path / "builds.log")) == 2


def test_reuse_db_keeps_the_template_until_the_schema_changes(
    project: Project, tmp_path: Path
) -> None:
    stem = f"test_tbtpl_{os.getpid()}"
    template_project(named(project, stem), tmp_path, schema="alembic", flavour="async")
    log = tmp_path / "builds.log"
    try:
        project.run("-n", "2", "--reuse-db", subprocess=True).assert_outcomes(passed=8)
        assert len(lines(log)) == 1
        kept = templates_of(project, stem)
        assert len(kept) == 1
        project.run("-n", "2", "--reuse-db", subprocess=True).assert_outcomes(passed=8)
        assert len(lines(log)) == 1  # the workers' databases reused: no build, no copy
        revision = project.pytester.path / "migrations" / "versions" / "0001_items.py"
        revision.write_text(revision.read_text() + "\n# changed\n")
        project.run("-n", "2", "--reuse-db", subprocess=True).assert_outcomes(passed=8)
        assert len(lines(log)) == 2  # rebuilt once for the new schema
        now = templates_of(project, stem)
        assert len(now) == 1 and now != kept  # the old template dropped, the new one kept
    finally:
        drop_all(project, stem)


def mark_as_unfinished(project: Project, name: str) -> None:
    """Give template ``name`` the marker of a copy a killed run left unfinished."""
    marker = Marker(template=True, built=False).dumps()
    assert project.server is not None
    if project.server.startswith("sqlite"):
        # a run without --reuse-db keeps its templates beside the runs' folders, not in the cache
        parent = Path(tempfile.gettempdir()) / f"fastapi-testbed-{os.getuid()}" / "templates"
        parent.mkdir(parents=True, exist_ok=True)
        (parent / f"{name}.db").write_bytes(b"")
        (parent / f"{name}.testbed").write_text(marker)
        return
    engine, _ = on_server(project, name)
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(name)
            literal = "'" + marker.replace("'", "''") + "'"
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"COMMENT ON DATABASE {quoted} IS {literal}")
            else:
                connection.exec_driver_sql(f"ALTER DATABASE {quoted} COMMENT {literal}")
    finally:
        engine.dispose()


def test_a_template_a_killed_run_left_unfinished_is_built_around_then_dropped(
    project: Project, tmp_path: Path
) -> None:
    # what a run killed while copying the schema to the template leaves: a marked template,
    # not finished. The next run's workers build their own (none waits), then drop it.
    stem = f"test_tbtpl_{os.getpid()}"
    template_project(named(project, stem), tmp_path, schema="metadata", flavour="async")
    log = tmp_path / "builds.log"
    try:
        project.run("-n", "2", "--reuse-db", subprocess=True).assert_outcomes(passed=8)
        (template,) = kept = templates_of(project, stem)
        mark_as_unfinished(project, template)
        if not project.server.startswith("sqlite"):
            kept = set()  # the one marked is the one the next runs find
        project.run("-n", "2", subprocess=True).assert_outcomes(passed=8)
        assert len(lines(log)) == 3  # both built: the template was not usable
        assert templates_of(project, stem) == kept  # and dropped at the end
        project.run("-n", "2", subprocess=True).assert_outcomes(passed=8)
        assert len(lines(log)) == 4  # the next run built it once again, and copied it
        assert templates_of(project, stem) == kept
    finally:
        drop_all(project, stem)


def test_a_build_that_leaves_a_connection_open_is_not_copied(pytester: pytest.Pytester) -> None:
    # PostgreSQL copies no database someone is connected to: an env.py that migrates through
    # the app's pooled engine leaves its connection open; each worker then builds its own,
    # without waiting on the other
    project = named(Project(pytester, SERVERS["postgresql"]), f"test_tbtpl_{os.getpid()}")
    log_dir = pytester.path / "logs"
    log_dir.mkdir()
    template_project(project, log_dir, schema="alembic", flavour="sync", env=ENV_APP_ENGINE)
    result = project.run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)
    assert len(lines(log_dir / "builds.log")) == 2
    assert templates_of(project, f"test_tbtpl_{os.getpid()}") == set()


def test_a_mariadb_schema_of_more_than_tables_is_not_copied(pytester: pytest.Pytester) -> None:
    # a view names its database inside its definition: the schema is built by each worker
    project = named(Project(pytester, SERVERS["mariadb"]), f"test_tbtpl_{os.getpid()}")
    log_dir = pytester.path / "logs"
    log_dir.mkdir()
    view = 'op.execute("CREATE VIEW item_names AS SELECT name FROM items")'
    template_project(project, log_dir, schema="alembic", flavour="async", extra=view)
    result = project.run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)
    assert len(lines(log_dir / "builds.log")) == 2
    assert templates_of(project, f"test_tbtpl_{os.getpid()}") == set()
