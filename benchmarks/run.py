"""Benchmark fastapi-testbed against two hand-written conftests, on the same 200-test API suite.

Usage::

    uv run python benchmarks/run.py [--tests 200] [--databases sqlite,postgresql] [--json PATH]
                                    [--repeat 3] [--keep]

Each test creates a row through the API and reads it back through the API. The suite runs with

* ``plugin``:  fastapi-testbed's ``client`` fixture and its default transaction isolation;
* ``seed000``: the seed-000 conftest brought up to date: a new engine, ``create_all`` and
  ``drop_all`` for every test, the app's ``get_db`` overridden, httpx ``ASGITransport``;
* ``cleanup``: one shared engine, the app committing for real, every table emptied after each test;

and, to price ``db_session`` alone, two plugin suites: ``async def test_x(): pass`` and
``async def test_x(db_session): pass``, both led by one warm-up test that creates the database.

Timing (tests per second): the wall time of each pytest subprocess minus the wall time of a
bare pytest run that collects nothing (same interpreter and options, fastapi-testbed disabled; the
hand-written suites run with it disabled too, as their users would not have it). Interpreter and
pytest start-up are left out; everything a suite adds is counted: loading fastapi-testbed, the
conftest, importing the app, creating the database and schema, and every test. pytest's reported
duration would not do here: it leaves out conftest imports, so the hand-written suites would
import the app for free while the plugin imports it lazily, inside the session.

Timing (``db_session``): the mean of the middle half of pytest's own per-test durations (setup +
call + teardown, from its JUnit XML report), warm-up test left out. The difference being a few
milliseconds, this keeps the load of a shared machine out better than whole-suite times would.

Each suite runs ``--repeat`` times, the rounds interleaved, and the best time counts. Ratios only
make sense within one run: the machine is shared, so compare patterns run side by side, not
numbers from different runs.

The script exits non-zero when any suite fails, so it doubles as a test of all three patterns.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from textwrap import dedent
from xml.etree import ElementTree

POSTGRESQL_SERVER = "postgresql://postgres@127.0.0.1:5432/"
DATABASES = ("sqlite", "postgresql")
PATTERNS = ("plugin", "seed000", "cleanup")
PATTERN_TITLES = {
    "plugin": "(a) fastapi-testbed",
    "seed000": "(b) seed 000: engine + create_all per test",
    "cleanup": "(c) shared engine, DELETE after each test",
}
PLUGIN_OFF = ("-p", "no:testbed", "-p", "no:testbed_fakes")

# --- the generated project ------------------------------------------------------------------------

APP_FILES = {
    "bench_app/__init__.py": '"""A tiny async FastAPI + SQLAlchemy app to benchmark against."""\n',
    "bench_app/db.py": '''
        """Engine and sessionmaker built from DATABASE_URL at import time, as real apps do."""

        import os
        from collections.abc import AsyncIterator

        from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

        engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///bench.db"))
        SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


        async def get_db() -> AsyncIterator[AsyncSession]:
            async with SessionLocal() as session:
                yield session
        ''',
    "bench_app/models.py": """
        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Item(Base):
            __tablename__ = "items"

            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(100))
        """,
    "bench_app/main.py": """
        from typing import Annotated

        from fastapi import Depends, FastAPI, HTTPException
        from pydantic import BaseModel
        from sqlalchemy.ext.asyncio import AsyncSession

        from bench_app.db import get_db
        from bench_app.models import Item


        class ItemIn(BaseModel):
            name: str


        class ItemOut(BaseModel):
            id: int
            name: str


        Session = Annotated[AsyncSession, Depends(get_db)]
        app = FastAPI()


        @app.post("/items", status_code=201)
        async def create_item(body: ItemIn, session: Session) -> ItemOut:
            item = Item(name=body.name)
            session.add(item)
            await session.commit()
            return ItemOut(id=item.id, name=item.name)


        @app.get("/items/{item_id}")
        async def read_item(item_id: int, session: Session) -> ItemOut:
            item = await session.get(Item, item_id)
            if item is None:
                raise HTTPException(status_code=404)
            return ItemOut(id=item.id, name=item.name)
        """,
}

# One event loop for the session in every suite: the shared engine of (c) needs it (asyncpg
# connections belong to the loop that opened them), and the other suites get the same conditions.
PYTEST_INI = """
    [tool.pytest.ini_options]
    pythonpath = ["."]
    testpaths = ["tests"]
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"
    """

TESTBED_TABLE = """
    [tool.testbed]
    app = "bench_app.main:app"
    metadata = "bench_app.models:Base.metadata"
    """

API_TESTS = """
    import pytest

    pytestmark = pytest.mark.asyncio


    @pytest.mark.parametrize("number", range({tests}))
    async def test_create_then_read(client, number):
        name = f"item {{number}}"
        created = await client.post("/items", json={{"name": name}})
        assert created.status_code == 201, created.text
        item = created.json()
        fetched = await client.get(f"/items/{{item['id']}}")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == {{"id": item["id"], "name": name}}
    """

# Both db_session suites start with this test, so the database is created before the counted tests.
WARM_UP_TEST = """
    import pytest

    pytestmark = pytest.mark.asyncio


    async def test_warm_up(db_session):
        pass
    """

NO_OP_TESTS = """


    @pytest.mark.parametrize("number", range({tests}))
    async def test_x({arguments}number):
        pass
    """

# What (b) and (c) both need on PostgreSQL: a test_ database of their own, dropped at the end.
CONFTEST_DATABASE = '''
    import os
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import pytest_asyncio
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy import make_url
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    TEST_DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
    os.environ["DATABASE_URL"] = TEST_DATABASE_URL  # before the app builds its engine

    from bench_app.db import engine, get_db  # noqa: E402
    from bench_app.main import app  # noqa: E402
    from bench_app.models import Base  # noqa: E402


    @asynccontextmanager
    async def server_database(url: str) -> AsyncIterator[None]:
        """Create the test database on a server (SQLite makes its file itself); drop it after."""
        url = make_url(url)
        if url.get_backend_name() == "sqlite":
            yield
            return
        assert url.database.startswith("test_")
        admin = create_async_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        async with admin.connect() as connection:
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}"')
            await connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        try:
            yield
        finally:
            async with admin.connect() as connection:
                await connection.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'
                )
            await admin.dispose()
    '''

# (b) The seed-000 conftest for today's libraries: httpx.ASGITransport instead of TestClient in an
# async test, pytest-asyncio fixtures, no echo=True (its logging would dominate), the engine
# disposed after each test (else PostgreSQL runs out of connections), the database a file or a
# server database instead of ":memory:" (each new engine would get an empty in-memory database).
CONFTEST_SEED000 = """
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


    @pytest_asyncio.fixture(scope="session", autouse=True)
    async def database():
        async with server_database(TEST_DATABASE_URL):
            yield


    @pytest_asyncio.fixture
    async def db_session():
        test_engine = create_async_engine(TEST_DATABASE_URL)
        sessions = async_sessionmaker(test_engine, class_=AsyncSession, expire_on_commit=False)
        async with test_engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with sessions() as session:
            yield session
        async with test_engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
        await test_engine.dispose()


    @pytest_asyncio.fixture
    async def client(db_session):
        app.dependency_overrides[get_db] = lambda: db_session
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            yield http
        app.dependency_overrides.clear()
    """

# (c) One engine (the app's own), real commits, every table emptied after each test.
CONFTEST_CLEANUP = """
    @pytest_asyncio.fixture(scope="session", autouse=True)
    async def database():
        async with server_database(TEST_DATABASE_URL):
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            yield
            await engine.dispose()


    @pytest_asyncio.fixture(autouse=True)
    async def empty_tables():
        yield
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())


    @pytest_asyncio.fixture
    async def client():
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
            yield http
    """


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"))


@dataclass(frozen=True)
class Suite:
    """One generated pytest project: its name, folder, and how many tests count towards results."""

    name: str
    path: Path
    tests: int
    expected_passed: int  # the counted tests, plus the warm-up test where there is one
    uses_plugin: bool


def write_suite(root: Path, name: str, *, tests: int) -> Suite:
    """Generate the suite ``name``: a pattern, or ``empty`` or ``db_session``."""
    path = root / name
    for relative, text in APP_FILES.items():
        _write(path / relative, text)
    uses_plugin = name not in {"seed000", "cleanup"}
    _write(path / "pyproject.toml", PYTEST_INI + (TESTBED_TABLE if uses_plugin else ""))
    _write(path / "tests/__init__.py", "")
    if name in PATTERNS:
        _write(path / "tests/test_api.py", API_TESTS.format(tests=tests))
        expected = tests
    else:
        arguments = "db_session, " if name == "db_session" else ""
        body = dedent(WARM_UP_TEST) + dedent(NO_OP_TESTS.format(tests=tests, arguments=arguments))
        _write(path / "tests/test_x.py", body)
        expected = tests + 1
    conftests = {"seed000": CONFTEST_SEED000, "cleanup": CONFTEST_CLEANUP}
    if name in conftests:
        _write(path / "tests/conftest.py", dedent(CONFTEST_DATABASE) + dedent(conftests[name]))
    return Suite(name, path, tests=tests, expected_passed=expected, uses_plugin=uses_plugin)


# --- running --------------------------------------------------------------------------------------

SUMMARY = re.compile(r"(?P<passed>\d+) passed.* in (?P<seconds>[\d.]+)s")
NO_TESTS_COLLECTED = 5


@dataclass(frozen=True)
class Run:
    """One pytest subprocess: its wall time and what pytest itself reported."""

    suite: str
    database: str
    returncode: int
    wall_seconds: float
    pytest_seconds: float | None
    typical_test_ms: float | None  # see typical_test_ms()
    passed: int
    output: str = field(repr=False)


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # Bytecode caching speeds up every run; stray database settings would change the target.
        if name not in {"PYTHONDONTWRITEBYTECODE", "DATABASE_URL", "TESTBED_DATABASE_URL"}
    }
    env.update(extra or {})
    return env


def typical_test_ms(report: Path) -> float | None:
    """The mean duration of the middle half of the tests in a JUnit XML report (warm-up left out).

    Robust to a slow test or two, like a median, but finer: the report rounds to milliseconds.
    """
    if not report.is_file():
        return None
    durations = sorted(
        float(case.get("time", "nan"))
        for case in ElementTree.parse(report).iter("testcase")
        if case.get("name") != "test_warm_up"
    )
    middle = durations[len(durations) // 4 : len(durations) - len(durations) // 4]
    return 1000 * statistics.mean(middle) if middle else None


def run_pytest(
    cwd: Path, arguments: Sequence[str], *, env: Mapping[str, str], suite: str, database: str
) -> Run:
    report = cwd / "junit.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", f"--junitxml={report}"]
    command += arguments
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    summaries = list(SUMMARY.finditer(output))
    last = summaries[-1] if summaries else None
    return Run(
        suite=suite,
        database=database,
        returncode=completed.returncode,
        wall_seconds=wall,
        pytest_seconds=float(last["seconds"]) if last else None,
        typical_test_ms=typical_test_ms(report),
        passed=int(last["passed"]) if last else 0,
        output=output,
    )


@dataclass(frozen=True)
class Target:
    """A database to run the suites on, and how each suite is pointed at it."""

    name: str
    server: str | None  # None: SQLite files

    def database_name(self, suite: Suite, run_id: str) -> str:
        return f"test_bench_{run_id}_{suite.name}"

    def environment(self, suite: Suite, run_id: str) -> dict[str, str]:
        """BENCH_DATABASE_URL, read by the hand-written conftests."""
        if suite.uses_plugin:
            return child_environment()
        if self.server is None:
            url = f"sqlite+aiosqlite:///{suite.path / f'test_{suite.name}.db'}"
        else:
            driver = self.server.replace("postgresql://", "postgresql+asyncpg://", 1)
            url = driver + self.database_name(suite, run_id)
        return child_environment({"BENCH_DATABASE_URL": url})

    def arguments(self, suite: Suite, run_id: str) -> list[str]:
        if not suite.uses_plugin:
            return list(PLUGIN_OFF)
        if self.server is None:
            return []  # the plugin's default: a SQLite file in a temporary directory
        return ["--testbed-db-url", self.server + self.database_name(suite, run_id)]

    def drop_leftovers(self, suites: Sequence[Suite], run_id: str) -> None:
        """Drop this run's databases, should a crashed suite have left any behind."""
        if self.server is None:
            return  # SQLite files go with the temporary directory
        from sqlalchemy import create_engine, make_url
        from sqlalchemy.exc import OperationalError

        url = make_url(self.server).set(drivername="postgresql+psycopg", database="postgres")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for suite in suites:
                    name = self.database_name(suite, run_id)
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except OperationalError as exc:  # the server is down: the suites have said so already
            print(f"could not drop test_bench_{run_id}_*: {exc.orig}", file=sys.stderr)
        finally:
            engine.dispose()


@contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="testbed-bench-"))
    try:
        yield root
    finally:
        if keep:
            print(f"suites kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """Tests per second of the three patterns on one database."""

    database: str
    tests_per_second: dict[str, float]

    @property
    def plugin_over_seed000(self) -> float:
        return self.tests_per_second["plugin"] / self.tests_per_second["seed000"]

    @property
    def plugin_over_cleanup(self) -> float:
        return self.tests_per_second["plugin"] / self.tests_per_second["cleanup"]


@dataclass(frozen=True)
class SessionCost:
    """Typical milliseconds per test (see typical_test_ms), without and with db_session."""

    database: str
    empty_ms: float
    db_session_ms: float

    @property
    def cost_ms(self) -> float:
        return self.db_session_ms - self.empty_ms

    @property
    def ratio(self) -> float:
        return self.db_session_ms / self.empty_ms


@dataclass
class Results:
    """Best-of-repeats timings, per database and suite, net of the empty-collection baseline."""

    tests: int
    repeat: int
    baseline_seconds: float
    seconds: dict[str, dict[str, float]]  # database -> suite -> net wall seconds
    test_ms: dict[str, dict[str, float]]  # database -> suite -> typical test duration
    runs: list[Run]
    failures: list[str]

    def throughput(self) -> list[Throughput]:
        return [
            Throughput(database, {p: self.tests / suites[p] for p in PATTERNS})
            for database, suites in self.seconds.items()
            if all(p in suites for p in PATTERNS)
        ]

    def session_costs(self) -> list[SessionCost]:
        costs = []
        for database, suites in self.test_ms.items():
            if {"empty", "db_session"} <= set(suites):
                costs.append(SessionCost(database, suites["empty"], suites["db_session"]))
        return costs

    def as_json(self, command: Sequence[str]) -> dict[str, object]:
        return {
            "command": list(command),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "tests": self.tests,
            "repeat": self.repeat,
            "method": "throughput: net seconds = best wall time of the pytest subprocess - best "
            "wall time of a bare pytest run collecting nothing (baseline_seconds); db_session: "
            "mean of the middle half of pytest's per-test durations (JUnit XML), best run",
            "baseline_seconds": self.baseline_seconds,
            "net_seconds": self.seconds,
            "typical_test_ms": self.test_ms,
            "throughput": [
                {
                    **asdict(row),
                    "plugin_over_seed000": row.plugin_over_seed000,
                    "plugin_over_cleanup": row.plugin_over_cleanup,
                }
                for row in self.throughput()
            ],
            "db_session": [
                {**asdict(row), "cost_ms": row.cost_ms, "ratio": row.ratio}
                for row in self.session_costs()
            ],
            "runs": [
                {name: value for name, value in asdict(run).items() if name != "output"}
                for run in self.runs
            ],
            "failures": self.failures,
        }

    def markdown(self) -> str:
        titles = " | ".join(PATTERN_TITLES[p] for p in PATTERNS)
        lines = [
            f"Tests per second, {self.tests} tests that each create a row and read it back "
            "through the API (higher is better; the ratios divide the plugin's rate by the "
            "other's):",
            "",
            f"| database | {titles} | plugin/(b) | plugin/(c) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in self.throughput():
            rates = " | ".join(f"{row.tests_per_second[p]:.1f}" for p in PATTERNS)
            lines.append(
                f"| {row.database} | {rates} | {row.plugin_over_seed000:.2f} "
                f"| {row.plugin_over_cleanup:.2f} |"
            )
        costs = self.session_costs()
        if costs:
            lines += [
                "",
                f"Cost of `db_session`: {self.tests} `async def test_x(db_session): pass` against "
                f"{self.tests} `async def test_x(): pass`, with the plugin (ms per test):",
                "",
                "| database | empty test | with db_session | difference | ratio |",
                "|---|---:|---:|---:|---:|",
            ]
            lines += [
                f"| {row.database} | {row.empty_ms:.2f} | {row.db_session_ms:.2f} "
                f"| {row.cost_ms:.2f} | {row.ratio:.1f} |"
                for row in costs
            ]
        lines += [
            "",
            f"Best of {self.repeat} runs. Tests per second: a suite's time is the wall time of its "
            "pytest process minus that of a bare pytest run collecting nothing, so it includes "
            "loading the plugin, importing the app and creating the database. `db_session`: the "
            "mean of the middle half of pytest's own per-test durations (setup + call + "
            "teardown). Every suite runs one event loop per session.",
        ]
        return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------

SUITES = (*PATTERNS, "empty", "db_session")


def run_suite(target: Target, suite: Suite, run_id: str) -> Run:
    """Run one suite on one database; report how it went on stderr."""
    run = run_pytest(
        suite.path,
        target.arguments(suite, run_id),
        env=target.environment(suite, run_id),
        suite=suite.name,
        database=target.name,
    )
    state = "ok" if run.returncode == 0 and run.passed == suite.expected_passed else "FAILED"
    reported = "no summary" if run.pytest_seconds is None else f"{run.pytest_seconds:.2f}s"
    print(
        f"  {target.name:<10} {suite.name:<10} {run.wall_seconds:6.2f}s wall, "
        f"pytest says {reported}  {state}",
        file=sys.stderr,
        flush=True,
    )
    if state == "FAILED":
        print(run.output[-4000:], file=sys.stderr)
    return run


def benchmark(
    targets: Sequence[Target], *, tests: int, repeat: int, keep: bool, run_id: str
) -> Results:
    """Run every suite on every target ``repeat`` times, interleaved; keep the best times."""
    runs: list[Run] = []
    failures: list[str] = []
    with workspace(keep) as root:
        suites = [write_suite(root, name, tests=tests) for name in SUITES]
        expected = {suite.name: suite.expected_passed for suite in suites}
        nothing = root / "nothing"
        nothing.mkdir()
        # Unmeasured runs first: the first start compiles bytecode and warms the file cache.
        for arguments in ([], list(PLUGIN_OFF)):
            run_pytest(nothing, arguments, env=child_environment(), suite="-", database="-")
        try:
            for _ in range(repeat):
                run = run_pytest(
                    nothing, PLUGIN_OFF, env=child_environment(), suite="baseline", database="-"
                )
                if run.returncode != NO_TESTS_COLLECTED:
                    failures.append(f"the empty-collection baseline exited {run.returncode}")
                runs.append(run)
                runs += [run_suite(target, suite, run_id) for target in targets for suite in suites]
        finally:
            for target in targets:
                target.drop_leftovers(suites, run_id)
    baseline = min(run.wall_seconds for run in runs if run.suite == "baseline")
    seconds: dict[str, dict[str, float]] = {}
    test_ms: dict[str, dict[str, float]] = {}
    for run in runs:
        if run.suite == "baseline":
            continue
        if run.returncode != 0 or run.passed != expected[run.suite]:
            failures.append(f"{run.suite} on {run.database}")
        best = seconds.setdefault(run.database, {})
        best[run.suite] = min(best.get(run.suite, math.inf), run.wall_seconds - baseline)
        if run.typical_test_ms is not None:
            best = test_ms.setdefault(run.database, {})
            best[run.suite] = min(best.get(run.suite, math.inf), run.typical_test_ms)
    return Results(tests, repeat, baseline, seconds, test_ms, runs, failures)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark fastapi-testbed against hand-written conftests."
    )
    parser.add_argument("--tests", type=int, default=200, help="tests per suite (default 200)")
    parser.add_argument(
        "--databases",
        default=",".join(DATABASES),
        help=f"comma-separated, from {', '.join(DATABASES)} (default: both)",
    )
    parser.add_argument(
        "--postgresql-url",
        default=POSTGRESQL_SERVER,
        help=f"the PostgreSQL server (default {POSTGRESQL_SERVER})",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each suite, best counts (default 3)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="save the results here")
    parser.add_argument("--keep", action="store_true", help="keep the generated suites")
    arguments = parser.parse_args(argv)
    databases = [name.strip() for name in arguments.databases.split(",") if name.strip()]
    unknown = sorted(set(databases) - set(DATABASES))
    if unknown or not databases:
        parser.error(f"--databases: expected some of {', '.join(DATABASES)}, got {unknown}")
    if arguments.tests < 1 or arguments.repeat < 1:
        parser.error("--tests and --repeat must be at least 1")
    arguments.databases = databases
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    server = arguments.postgresql_url.rstrip("/") + "/"
    targets = [Target(name, server if name != "sqlite" else None) for name in arguments.databases]
    results = benchmark(
        targets,
        tests=arguments.tests,
        repeat=arguments.repeat,
        keep=arguments.keep,
        run_id=uuid.uuid4().hex[:8],
    )
    print(results.markdown())
    if arguments.json is not None:
        command = ["benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]
        arguments.json.write_text(json.dumps(results.as_json(command), indent=2) + "\n")
    if results.failures:
        print("FAILED: " + ", ".join(results.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
