"""`fastapi-testbed doctor`: the conftest patterns it lists and fixes, and the setup it checks."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from tests.cli.conftest import POSTGRES, Folder
from tests.cli.projects import ASYNC, AUTO_WITH_ANYIO, SYNC, Files

Make = Callable[[str, Files], Folder]


def listed(result_output: str) -> list[tuple[str, str]]:
    """(file:line, title) of each problem doctor printed."""
    found = []
    for line in result_output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("tests/", "pyproject.toml")) and ": " in stripped:
            where, _, title = stripped.partition(": ")
            found.append((where, title))
    return found


def test_async_tutorial_conftest_is_fixed_and_the_suite_passes(make: Make) -> None:
    """The 2023 tutorial conftest: event_loop, AsyncClient(app=...), create_all per test, a
    session of its own, an override, overrides.clear(). init's run fails on it; doctor lists
    each with its line; --fix removes them; the suite passes on SQLite and PostgreSQL."""
    folder = make("cliapp_async", ASYNC)
    init = folder.cli_process("init", "--yes")
    assert init.code == 1
    assert (
        init.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "fastapi-testbed init: The suite failed (pytest exited with 1) with [tool.testbed] "
            "written to "
        )
    )
    assert "TypeError" in init.stdout  # AsyncClient(app=...) on httpx 0.28
    assert "6 pattern(s) in your tests" in init.stdout

    doctor = folder.cli("doctor")
    assert doctor.code == 1
    assert listed(doctor.stdout) == [
        ("tests/conftest.py:17", "an `event_loop` fixture (broken) [fixable]"),
        (
            "tests/conftest.py:24",
            "fixture `setup_database` runs create_all/drop_all for every test (unnecessary) "
            "[fixable]",
        ),
        ("tests/conftest.py:33", "fixture `db` makes its own session (unnecessary) [fixable]"),
        (
            "tests/conftest.py:43",
            "`app.dependency_overrides[get_db] = override_get_db` (unnecessary) [fixable]",
        ),
        (
            "tests/conftest.py:47",
            "fixture `async_client` builds `AsyncClient(app=...)` (broken) [fixable]",
        ),
        ("tests/conftest.py:50", "`app.dependency_overrides.clear()` (unnecessary) [fixable]"),
    ]
    assert "why: httpx 0.28 removed AsyncClient's app argument" in doctor.stdout
    assert "instead: the plugin's `client` fixture" in doctor.stdout
    assert doctor.stderr.strip() == (
        f"fastapi-testbed doctor: 6 problem(s) in {folder.root} (6 fixable with "
        "`fastapi-testbed doctor --fix`; the others are listed above with what replaces them)."
    )

    fixed = folder.cli("doctor", "--fix")
    assert fixed.code == 0, fixed.output
    assert "tests/conftest.py (removed: nothing was left in it)" in fixed.stdout
    assert not (folder.root / "tests" / "conftest.py").exists()
    assert (
        folder.read("tests/test_items.py")
        == textwrap.dedent(
            ASYNC["tests/test_items.py"]
            .replace("async_client", "client")
            .replace("(client, db)", "(client, db_session)")
            .replace("(db)", "(db_session)")
            .replace("await db.", "await db_session.")
            .replace("    db.add", "    db_session.add")
        ).lstrip()
    )

    for server in ("sqlite://", POSTGRES):
        run = folder.suite("--testbed-db-url", server)
        assert run.code == 0, run.output
        assert "3 passed" in run.stdout
    assert "test_cliapp_async" in run.stdout


def test_sync_conftest_is_fixed_and_the_suite_passes(make: Make) -> None:
    """TestClient fixture, a session of its own, create_all once, DATABASE_URL set by hand."""
    folder = make("cliapp_sync", SYNC)
    assert folder.cli("init", "--yes", "--no-run").code == 0
    doctor = folder.cli("doctor")
    assert [where for where, _ in listed(doctor.stdout)] == [
        "tests/conftest.py:3",
        "tests/conftest.py:19",
        "tests/conftest.py:26",
        "tests/conftest.py:35",
        "tests/conftest.py:39",
        "tests/conftest.py:42",
    ]
    assert "`os.environ['DATABASE_URL'] = 'sqlite:///./test.db'`" in doctor.stdout
    assert "fixture `client` builds Starlette's TestClient" in doctor.stdout

    fixed = folder.cli("doctor", "--fix")
    assert fixed.code == 0, fixed.output
    assert "tests/conftest.py (removed: nothing was left in it)" in fixed.stdout
    tests = folder.read("tests/test_notes.py")
    assert "def test_add(sync_client, db_session):" in tests
    assert "db_session.query(Note)" in tests
    for server in ("sqlite://", POSTGRES):
        run = folder.suite("--testbed-db-url", server)
        assert run.code == 0, run.output
        assert "2 passed" in run.stdout
    assert "test_cliapp_sync" in run.stdout


UNSAFE: Files = {
    "pyproject.toml": """
        [tool.testbed]
        app = "cliapp_unsafe.main:app"
    """,
    "cliapp_unsafe/__init__.py": "",
    "cliapp_unsafe/main.py": """
        from fastapi import FastAPI

        app = FastAPI()
    """,
    "tests/conftest.py": """
        import pytest
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from cliapp_unsafe.main import app


        @pytest.fixture
        def engine():
            return create_engine("sqlite://")


        @pytest.fixture
        def db():
            with Session(create_engine("sqlite://")) as session:
                yield session


        @pytest.fixture(scope="module")
        def repository(db):
            return db


        @pytest.fixture(autouse=True)
        def reset():
            yield
            app.dependency_overrides.clear()
    """,
    "tests/test_unsafe.py": """
        import pytest


        def test_engine_read_in_body(engine):
            assert engine.url.database is None


        @pytest.mark.usefixtures("db")
        def test_named_in_usefixtures():
            pass
    """,
}


def test_fixes_only_what_is_safe(make: Make) -> None:
    """A fixture read by a test's body with nothing to stand in, one named in usefixtures, one a
    module-scoped fixture uses: listed, not fixable, left as they are. The clear() goes."""
    folder = make("cliapp_unsafe", UNSAFE)
    doctor = folder.cli("doctor")
    titles = dict(listed(doctor.stdout))
    assert titles["tests/conftest.py:9"] == "fixture `engine` makes a test engine (unnecessary)"
    assert titles["tests/conftest.py:14"] == (
        "fixture `db` makes its own engine and session (unnecessary)"
    )
    assert titles["tests/conftest.py:27"] == (
        "`app.dependency_overrides.clear()` (unnecessary) [fixable]"
    )
    before = folder.read("tests/conftest.py")
    fixed = folder.cli("doctor", "--fix")
    assert fixed.code == 1  # what is left is still listed
    after = folder.read("tests/conftest.py")
    # the clear() goes, and the import only it used
    assert after == before.replace("    app.dependency_overrides.clear()\n", "").replace(
        "\nfrom cliapp_unsafe.main import app\n", ""
    )
    assert (
        folder.read("tests/test_unsafe.py")
        == textwrap.dedent(UNSAFE["tests/test_unsafe.py"]).lstrip()
    )


def test_asyncio_auto_beside_anyio_is_listed_not_fixed(make: Make) -> None:
    folder = make("cliapp_anyio", AUTO_WITH_ANYIO)
    doctor = folder.cli("doctor", "--fix")
    assert doctor.code == 1
    assert listed(doctor.stdout) == [
        ("pyproject.toml:7", 'asyncio_mode = "auto" beside anyio tests (broken)')
    ]
    assert "instead: one of them: remove asyncio_mode" in doctor.stdout
    assert 'asyncio_mode = "auto"' in folder.read("pyproject.toml")


def test_environment_checks(make: Make) -> None:
    folder = make("cliapp_sync", SYNC)
    missing = folder.cli("doctor")
    assert "error no [tool.testbed] table in" in missing.stdout
    assert folder.cli("init", "--yes", "--no-run").code == 0

    reachable = folder.cli("doctor", "--db-url", POSTGRES)
    assert "ok    sync driver for postgresql (--db-url): psycopg" in reachable.stdout
    assert (
        "ok    test database server postgresql://postgres@127.0.0.1:5432/ (from --db-url) "
        "reachable" in reachable.stdout
    )
    closed = folder.cli("doctor", "--db-url", "postgresql://postgres@127.0.0.1:1/")
    assert (
        "error the test database server postgresql://postgres@127.0.0.1:1/ (from --db-url) is "
        "not reachable at 127.0.0.1:1" in closed.stdout
    )
    assert closed.code == 1
    driver = folder.cli("doctor", "--db-url", "mysql+mysqldb://root@127.0.0.1:3306/")
    assert (
        "error driver mysqldb for mysql (named by --db-url): not installed; pip install mysqlclient"
        in driver.stdout
    )


NO_RUNNER: Files = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        asyncio_default_fixture_loop_scope = "function"

        [tool.testbed]
        app = "cliapp_runner.main:app"
    """,
    "cliapp_runner/__init__.py": "",
    "cliapp_runner/main.py": """
        from fastapi import FastAPI

        app = FastAPI()
    """,
    "tests/test_async.py": """
        async def test_docs(client):
            assert (await client.get("/docs")).status_code == 200
    """,
}


def test_async_tests_that_no_plugin_runs(make: Make) -> None:
    folder = make("cliapp_runner", NO_RUNNER)
    doctor = folder.cli("doctor")
    assert doctor.code == 1
    assert "error 1 async test(s) but no plugin runs them (pytest-asyncio " in doctor.stdout
    assert "(asyncio_mode strict); anyio " in doctor.stdout
    assert "mark them pytest.mark.anyio" in doctor.stdout


@pytest.mark.parametrize("files", [ASYNC, SYNC], ids=["async", "sync"])
def test_fix_twice_changes_nothing_more(make: Make, files: Files) -> None:
    folder = make("cliapp_twice", files)
    folder.cli("doctor", "--fix")
    snapshot = {p: p.read_bytes() for p in folder.root.rglob("*.py")}
    again = folder.cli("doctor", "--fix")
    assert "Nothing to fix safely." in again.stdout
    assert {p: p.read_bytes() for p in folder.root.rglob("*.py")} == snapshot


SHARED_SESSION: Files = {
    "pyproject.toml": """
        [tool.testbed]
        app = "cliapp_loops.main:app"
    """,
    "cliapp_loops/__init__.py": "",
    "cliapp_loops/main.py": """
        from fastapi import FastAPI

        app = FastAPI()
    """,
    "tests/conftest.py": """
        import pytest_asyncio
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine


        @pytest_asyncio.fixture(scope="session")
        async def session():
            engine = create_async_engine("sqlite+aiosqlite://")
            async with AsyncSession(engine) as session:
                yield session
    """,
    "tests/test_rows.py": """
        import pytest
        from sqlalchemy import text


        @pytest.mark.asyncio
        async def test_one(session):
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    """,
}


def test_a_session_shared_across_loops(make: Make) -> None:
    folder = make("cliapp_loops", SHARED_SESSION)
    doctor = folder.cli("doctor")
    assert listed(doctor.stdout) == [
        (
            "tests/conftest.py:6",
            "fixture `session` makes its own engine and session (scope='session') (broken) "
            "[fixable]",
        )
    ]
    assert "bound to the event loop of the first test" in doctor.stdout
    assert folder.cli("doctor", "--fix").code == 0
    assert not (folder.root / "tests" / "conftest.py").exists()
    assert "async def test_one(db_session):" in folder.read("tests/test_rows.py")
    assert "await db_session.execute" in folder.read("tests/test_rows.py")


def test_a_database_url_set_by_hand_is_removed(make: Make) -> None:
    folder = make(
        "cliapp_env",
        {
            "pyproject.toml": '[tool.testbed]\napp = "cliapp_env.main:app"\n',
            "cliapp_env/__init__.py": "",
            "cliapp_env/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
            "tests/conftest.py": (
                "import os\n\n"
                'os.environ.setdefault("DATABASE_URL", "sqlite:///./test.db")\n'
                'os.environ["SECRET_KEY"] = "kept"\n'
            ),
        },
    )
    doctor = folder.cli("doctor")
    assert listed(doctor.stdout) == [
        (
            "tests/conftest.py:3",
            "`os.environ.setdefault('DATABASE_URL', 'sqlite:///./test.db')` (unnecessary) "
            "[fixable]",
        )
    ]
    assert folder.cli("doctor", "--fix").code == 0
    assert folder.read("tests/conftest.py") == 'import os\n\nos.environ["SECRET_KEY"] = "kept"\n'
