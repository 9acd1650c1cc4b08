"""The generated pytest projects: the app, one test module, the pattern's conftest, its options.

Three kinds of suite, each a folder of its own under the benchmark's temporary directory:

* per-test suites (one per pattern and runner): ``test_empty`` (pytest's own cost), then
  ``test_select`` (``db_session`` + ``select 1``), then ``test_api`` (POST, GET, and one read
  with ``db_session``), ``tests`` of each, each priced by pytest's own durations; last,
  ``test_nothing_left`` checks that the pattern did isolate (no row the API tests wrote is left);
* first-test suites: one ``db_session`` + ``select 1`` test, timed from the launch of pytest to
  its end (time to the first test: database, schema, app, connection), schema by
  ``create_all`` or by ``alembic upgrade head``; ``bare``: one empty test, pytest's start-up;
  ``app``: one empty test after a conftest that only imports the app (FastAPI, pydantic,
  SQLAlchemy, the engine's driver), what every pattern pays before its first test;
* the parallel suites: ``test_api`` only, run with ``-n 0`` and ``-n 2``, with the plugin and,
  for comparison, with the hand-written conftest (which gives each xdist worker its database).

Each suite loads exactly the pytest plugins its users would have: fastapi-testbed only where it
is the pattern, pytest-sqla likewise, pytest-asyncio only under the pytest-asyncio runner; and
the benchmark's own ``bench_timing`` (timing.py), which notes pytest's durations.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

from benchmarks.app import ALEMBIC_FILES, APP_FILES
from benchmarks.patterns import RUNNERS, Pattern, Runner

TEST_HEADER = """
    import pytest
    from sqlalchemy import text

    from bench_app.models import Item

    pytestmark = pytest.mark.{marker}
    """

TESTS = {
    "empty": """
        @pytest.mark.parametrize("number", range({tests}))
        async def test_empty(number):
            pass
        """,
    "select": """
        @pytest.mark.parametrize("number", range({tests}))
        async def test_select(db_session, number):
            assert (await db_session.execute(text("select 1"))).scalar_one() == 1
        """,
    "api": """
        @pytest.mark.parametrize("number", range({tests}))
        async def test_api(client, db_session, number):
            name = f"item {{number}}"
            created = await client.post("/items", json={{"name": name}})
            assert created.status_code == 201, created.text
            item_id = created.json()["id"]
            fetched = await client.get(f"/items/{{item_id}}")
            assert fetched.json() == {{"id": item_id, "name": name}}
            assert (await db_session.get(Item, item_id)).name == name
        """,
}

# Last in every per-test suite: what the API tests wrote is gone (the pattern does isolate).
NOTHING_LEFT_TEST = """
    async def test_nothing_left(db_session):
        count = (await db_session.execute(text("select count(*) from items"))).scalar_one()
        assert count == 0, f"{count} rows the API tests wrote are still there"
    """

FIRST_TEST = """
    async def test_first(db_session):
        assert (await db_session.execute(text("select 1"))).scalar_one() == 1
    """

BARE_TEST = """
    async def test_first():
        pass
    """

TIMING_PLUGIN = Path(__file__).with_name("timing.py")  # copied into each suite: bench_timing.py

BARE = Pattern("bare", "pytest alone", None, kinds=())

APP_ONLY_IMPORTS = """
    import os

    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]  # the engine's driver, too

    import bench_app.main  # noqa: E402, F401
    """

# No plugin, no database: pytest's start-up plus the app's import, nothing else.
APP_ONLY = Pattern(
    "app", "pytest + importing the app", "", kinds=(), imports=APP_ONLY_IMPORTS, own_database=False
)

PLUGIN_OPTIONS = {
    "testbed": ("-p", "no:testbed", "-p", "no:testbed_fakes"),
    "sqla": ("-p", "no:sqla"),
}


@dataclass(frozen=True)
class Suite:
    """A generated project: where it is, what it runs, and how many tests must pass."""

    name: str
    path: Path
    pattern: Pattern
    runner: Runner
    expected: int
    options: tuple[str, ...]
    schema: str = "metadata"

    @property
    def database(self) -> str:
        """The test database of a hand-written pattern or of pytest-sqla (``test_`` prefixed)."""
        # this run's own: a benchmark beside another one on the server never touches its databases
        return f"test_bench_{os.getpid()}_{self.name.replace('-', '_')}"

    @property
    def first_test_file(self) -> Path:
        return self.path / "first-test.time"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"))


def _block(text: str) -> str:
    """A top-level block of a test module, two blank lines before it."""
    return "\n\n" + dedent(text).strip("\n") + "\n"


def _options(pattern: Pattern, runner: Runner) -> tuple[str, ...]:
    off = [
        part for name, parts in PLUGIN_OPTIONS.items() if name != pattern.plugin for part in parts
    ]
    return (*off, *runner.options, "-p", "bench_timing")


def _project(path: Path, pattern: Pattern, runner: Runner, *, schema: str, tests: str) -> None:
    for relative, text in APP_FILES.items():
        _write(path / relative, text)
    if schema == "alembic":
        for relative, text in ALEMBIC_FILES.items():
            _write(path / relative, text)
    ini = ['[tool.pytest.ini_options]\npythonpath = ["."]\ntestpaths = ["tests"]\n', runner.ini]
    if pattern.plugin == "sqla":
        ini.append('sqla_metadata = "bench_app.models:Base"\n')
    if pattern.plugin == "testbed":
        source = (
            'alembic_ini = "alembic.ini"'
            if schema == "alembic"
            else 'metadata = "bench_app.models:Base.metadata"'
        )
        ini.append(f'\n[tool.testbed]\napp = "bench_app.main:app"\n{source}\n')
    _write(path / "pyproject.toml", "".join(ini))
    shutil.copyfile(TIMING_PLUGIN, path / "bench_timing.py")
    _write(path / "tests/__init__.py", "")
    header = dedent(TEST_HEADER.format(marker=runner.marker)).strip("\n")
    _write(path / "tests/test_bench.py", header + "\n" + tests)
    conftest = pattern.conftest(runner, schema=schema)
    if conftest is not None:
        _write(path / "tests/conftest.py", conftest)


def write_per_test_suite(root: Path, pattern: Pattern, runner: Runner, *, tests: int) -> Suite:
    name = f"{pattern.name}-{runner.name}"
    tests = pattern.tests(tests)
    body = "".join(_block(TESTS[kind].format(tests=tests)) for kind in pattern.kinds)
    body += _block(NOTHING_LEFT_TEST)
    _project(root / name, pattern, runner, schema="metadata", tests=body)
    expected = tests * len(pattern.kinds) + 1
    return Suite(name, root / name, pattern, runner, expected, _options(pattern, runner))


def write_first_test_suite(root: Path, pattern: Pattern | None, schema: str) -> Suite:
    """One test, timed to its end; ``pattern`` None: the bare suite, no database at all.

    A pattern with no kinds of test (bare, app) runs one empty test.
    """
    runner = RUNNERS["asyncio"]
    pattern = pattern or BARE
    name = f"first-{pattern.name}-{schema}"
    test = FIRST_TEST if pattern.kinds else BARE_TEST
    _project(root / name, pattern, runner, schema=schema, tests=_block(test))
    return Suite(name, root / name, pattern, runner, 1, _options(pattern, runner), schema)


def write_parallel_suite(root: Path, pattern: Pattern, *, tests: int) -> Suite:
    runner = RUNNERS["asyncio"]
    name = f"parallel-{pattern.name}"
    api_tests = _block(TESTS["api"].format(tests=tests))
    _project(root / name, pattern, runner, schema="metadata", tests=api_tests)
    return Suite(name, root / name, pattern, runner, tests, _options(pattern, runner))


def write_nothing(root: Path) -> Path:
    """An empty folder: pytest collecting nothing there is its bare start-up."""
    path = root / "nothing"
    path.mkdir(parents=True, exist_ok=True)
    return path
