"""Runs that overlap, are killed with -9 or interrupted with Ctrl-C: each as a real process."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import Project, server_databases
from tests.faults.conftest import Runner, wait_for_file

# Each test writes <RUN>.started with its database's name, then waits for what the test says.
OVERLAP = """
import os
import pathlib
import time

import pytest

pytestmark = pytest.mark.anyio


async def test_overlap(client, testbed):
    run = os.environ["RUN"]
    pathlib.Path(run + ".started").write_text(testbed.url.database)
    deadline = time.monotonic() + 60
    while len(list(pathlib.Path().glob("*.started"))) < int(os.environ.get("RUNS", "1")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = await client.post("/items", json={"name": "same name in every run"})
    assert response.status_code == 201, response.text
    assert (await client.get("/items")).json() == ["same name in every run"]
    if os.environ.get("HANG"):
        time.sleep(120)
"""


def _exists(project: Project, name: str) -> bool:
    if project.server is None:
        return Path(name).exists() or Path(name).parent.exists()
    return name in server_databases(project.server.rsplit("/", 1)[0] + "/")


def test_concurrent_runs_each_get_a_database_of_their_own(project: Project, spawn: Runner) -> None:
    project.write(OVERLAP)
    runs = [spawn.start(env={"RUN": f"r{i}", "RUNS": "3"}) for i in range(3)]
    codes = [run.wait() for run in runs]
    assert codes == [0, 0, 0], "\n\n".join(run.output for run in runs)
    folder = project.pytester.path
    names = {(folder / f"r{i}.started").read_text() for i in range(3)}
    assert len(names) == 3  # test_x, test_x_2, test_x_3 (or other free names)
    assert not any(_exists(project, name) for name in names)  # each run dropped its own


def test_concurrent_xdist_runs(project: Project, spawn: Runner) -> None:
    project.write(OVERLAP)
    runs = [spawn.start("-n", "2", env={"RUN": f"r{i}", "RUNS": "2"}) for i in range(2)]
    assert [run.wait() for run in runs] == [0, 0], "\n\n".join(run.output for run in runs)


def test_after_kill_9_the_next_run_passes_and_removes_what_was_left(
    project: Project, spawn: Runner
) -> None:
    project.write(OVERLAP)
    folder = project.pytester.path
    killed = spawn.start("-n", "2", "-k", "overlap", env={"RUN": "killed", "HANG": "1"})
    name = wait_for_file(folder / "killed.started", killed)
    for _ in range(100):  # the row is committed to the test's transaction, then the test hangs
        time.sleep(0.05)
    killed.kill()
    assert _exists(project, name)  # what a killed run leaves...
    code, output = spawn(env={"RUN": "next"})
    assert code == 0, output
    assert not _exists(project, name)  # ... the next run removes


SLOW_MIGRATION = """
from alembic import op
import os
import pathlib
import time

import sqlalchemy as sa

revision = "aaa"
down_revision = None


def upgrade():
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )
    if os.environ.get("SEEDED"):  # reference data, as migrations often insert
        op.execute("INSERT INTO items (name) VALUES ('seeded')")
    pathlib.Path("migrating").write_text(os.environ.get("RUN", ""))
    if os.environ.get("SLOW"):
        time.sleep(60)
"""

ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
"""

SYNC_TEST = """
import os
import pathlib

from sqlalchemy import func, select

from tbapp.models import Item


def test_write(db_session, testbed):
    pathlib.Path(os.environ["RUN"] + ".started").write_text(testbed.url.database)
    db_session.add(Item(name="unique"))
    db_session.flush()
    assert db_session.scalar(select(func.count()).select_from(Item)) == 1
"""


def _alembic_project(project: Project) -> None:
    project.write(SYNC_TEST, flavour="sync", extra='alembic_ini = "alembic.ini"')
    folder = project.pytester.path
    (folder / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (folder / "migrations" / "versions").mkdir(parents=True)
    (folder / "migrations" / "env.py").write_text(ENV)
    (folder / "migrations" / "versions" / "aaa.py").write_text(SLOW_MIGRATION)


def test_ctrl_c_during_the_schema_build_drops_the_database(project: Project, spawn: Runner) -> None:
    _alembic_project(project)
    folder = project.pytester.path
    run = spawn.start(env={"RUN": "interrupted", "SLOW": "1"})
    wait_for_file(folder / "migrating", run)
    claimed = [line for line in run.output.splitlines() if "-> " in line]
    started = time.monotonic()
    run.signal(signal.SIGINT)
    run.wait(timeout=30)
    assert time.monotonic() - started < 5, run.output
    assert "KeyboardInterrupt" in run.output
    url = claimed[0].split("-> ")[-1].split("?")[0]
    name = url.rsplit("/", 1)[-1] if project.server else url
    name = name.removeprefix("sqlite+pysqlite:///")
    assert not _exists(project, name), run.output


def _ctrl_c_ends_the_run(project: Project, spawn: Runner, flag: str, settle: float) -> None:
    """Start the run, Ctrl-C it once its test wrote ``flag`` (and ``settle`` seconds more): it
    must end within 5 seconds and drop its database."""
    run = spawn.start(env={"RUN": "x"})
    name = wait_for_file(project.pytester.path / flag, run)
    time.sleep(settle)
    started = time.monotonic()
    run.signal(signal.SIGINT)
    run.wait(timeout=30)
    assert time.monotonic() - started < 5, run.output
    assert not _exists(project, name), run.output


def test_ctrl_c_during_a_request_ends_the_run(project: Project, spawn: Runner) -> None:
    project.write(
        """
        import os
        import pathlib

        import anyio
        import pytest

        from tbapp.main import app

        pytestmark = pytest.mark.anyio


        @app.get("/slow")
        async def slow():
            await anyio.sleep(60)


        async def test_slow(client, testbed):
            pathlib.Path("requesting").write_text(testbed.url.database)
            await client.get("/slow")
        """
    )
    _ctrl_c_ends_the_run(project, spawn, "requesting", settle=0.3)


SLOW_QUERY = """
import pathlib

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio


async def test_slow_query(db_session, testbed):
    backend = testbed.url.get_backend_name()
    query = "SELECT pg_sleep(60)" if backend == "postgresql" else "SELECT SLEEP(60)"
    pathlib.Path("querying").write_text(testbed.url.database)
    await db_session.execute(text(query))
"""


@pytest.mark.parametrize("project", ["postgresql", "mariadb"], indirect=True)
def test_ctrl_c_while_the_loop_thread_runs_a_slow_query(project: Project, spawn: Runner) -> None:
    # past its slice, the query is the plugin loop's own thread's: Ctrl-C must still end the run
    # at once, that thread holding the loop, and drop the database
    project.write(SLOW_QUERY)
    _ctrl_c_ends_the_run(project, spawn, "querying", settle=0.5)


def test_kill_9_in_a_migration_then_reuse_db_rebuilds(project: Project, spawn: Runner) -> None:
    _alembic_project(project)
    folder = project.pytester.path
    killed = spawn.start("--reuse-db", env={"RUN": "killed", "SLOW": "1"})
    wait_for_file(folder / "migrating", killed)
    killed.kill()
    code, output = spawn("-s", "--reuse-db", env={"RUN": "next"})
    assert code == 0, output
    assert "its last build did not finish; rebuilt it" in output
    code, output = spawn("--create-db", env={"RUN": "last"})  # and drop it, without reuse
    assert code == 0, output


def test_kill_9_while_the_xdist_template_is_built_then_the_next_run_builds_it(
    project: Project, spawn: Runner
) -> None:
    # xdist_template: one worker migrates while the other waits on the template's lock; the
    # run is killed then. The next run builds the schema (once), copies it, and leaves nothing.
    _alembic_project(project)
    folder = project.pytester.path
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\nxdist_template = true\n")
    (folder / "test_more.py").write_text(SYNC_TEST.replace("def test_write", "def test_more"))
    killed = spawn.start("-n", "2", env={"RUN": "killed", "SLOW": "1"})
    wait_for_file(folder / "migrating", killed)
    killed.kill()
    (folder / "migrating").unlink()
    code, output = spawn("-n", "2", env={"RUN": "next"})
    assert code == 0, output
    assert "2 passed" in output
    if project.server:  # neither the killed run's databases nor the next run's template
        server, stem = project.server.rsplit("/", 1)
        left = {name for name in server_databases(server + "/") if name.startswith(stem)}
    else:
        folder = Path(tempfile.gettempdir()) / f"fastapi-testbed-{os.getuid()}" / "templates"
        left = {path.name for path in folder.glob("test_tbapp_tpl_*.db")}
    assert left == set(), output


TRUNCATE = """
import os
import pathlib
import time

import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.testbed(isolation="truncate")
async def test_commits(client, testbed):
    response = await client.post("/items", json={"name": "unique"})
    assert response.status_code == 201, response.text
    pathlib.Path(os.environ["RUN"] + ".started").write_text(testbed.url.database)
    if os.environ.get("HANG"):
        time.sleep(120)
"""


def test_kill_9_in_a_truncate_test_then_reuse_db_empties(project: Project, spawn: Runner) -> None:
    project.write(TRUNCATE)
    folder = project.pytester.path
    killed = spawn.start("--reuse-db", env={"RUN": "killed", "HANG": "1"})
    wait_for_file(folder / "killed.started", killed)
    killed.kill()
    code, output = spawn("-s", "--reuse-db", env={"RUN": "next"})
    assert code == 0, output  # the killed run's committed row would break the unique name
    assert "a truncate test of a killed run left rows behind; emptied it" in output
    code, output = spawn("-s", "--reuse-db", env={"RUN": "again"})
    assert code == 0, output
    assert "reused, its schema unchanged" in output
    code, output = spawn("--create-db", env={"RUN": "last"})
    assert code == 0, output


SEEDED_TRUNCATE = """
import os
import pathlib
import time

import pytest
from sqlalchemy import select

from tbapp.models import Item


@pytest.mark.testbed(isolation="truncate")
def test_commits(sync_client, db_session, testbed):
    assert sync_client.post("/items", json={"name": "unique"}).status_code == 201
    assert db_session.scalars(select(Item.name).order_by(Item.id)).all() == ["seeded", "unique"]
    pathlib.Path(os.environ["RUN"] + ".started").write_text(testbed.url.database)
    if os.environ.get("HANG"):
        time.sleep(120)
"""


def test_kill_9_in_a_truncate_test_keeps_the_migrations_rows(
    project: Project, spawn: Runner
) -> None:
    _alembic_project(project)
    (project.pytester.path / "test_app.py").write_text(SEEDED_TRUNCATE)
    folder = project.pytester.path
    killed = spawn.start("--reuse-db", env={"RUN": "killed", "HANG": "1", "SEEDED": "1"})
    wait_for_file(folder / "killed.started", killed)
    killed.kill()
    code, output = spawn("-s", "--reuse-db", env={"RUN": "next", "SEEDED": "1"})
    assert code == 0, output  # 'seeded' is back, 'unique' is gone
    assert "a killed run left rows among the migrations' rows; rebuilt it" in output
    code, output = spawn("--create-db", env={"RUN": "last", "SEEDED": "1"})
    assert code == 0, output
