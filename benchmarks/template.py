"""``xdist_template`` on and off: wall times of whole ``-n`` runs, interleaved, in one sitting.

Usage::

    uv run python benchmarks/template.py             # 4 rounds, -n 2 and -n 4: about 7 minutes
    uv run python benchmarks/template.py --quick     # CI: one round, -n 2, a light migration

The suite is an app whose schema Alembic builds from 40 migrations of a table each, then a data
migration that computes its rows in Python (about 2 s of CPU here; ``--quick`` a tenth of it),
and 40 ``db_session`` tests. Each run is timed from launch to exit, the template on then off (the
order turns each round); the figure is the median of the rounds and ``on / off`` their ratio.
It exits 1 when a run fails, never because of a timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package

from benchmarks.main import MARIADB_SERVER, POSTGRESQL_SERVER
from benchmarks.measure import child_environment, run_pytest
from benchmarks.servers import DRIVERS, Database, databases

TESTS = 40
MIGRATIONS = 40

ENV = """
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

TABLE_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "{number:04d}"
down_revision = {previous}


def upgrade():
    op.create_table(
        "t{number}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), index=True),
        sa.Column("value", sa.Integer),
    )
"""

DATA_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "data"
down_revision = "{previous:04d}"


def upgrade():
    # reference rows computed in Python, as data migrations often are
    table = sa.table("t1", sa.column("name", sa.String), sa.column("value", sa.Integer))
    rows = []
    for i in range({rows}):
        rows.append({{"name": f"r{{i}}", "value": sum(j * j for j in range(20000)) % 1000}})
    op.bulk_insert(table, rows)
"""

DB = """
import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./app.db"))
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
"""

SUITE = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"


@pytest.mark.parametrize("n", range({tests}))
async def test_reference_rows(db_session, n):
    assert (await db_session.execute(text("SELECT count(*) FROM t1"))).scalar() == {rows}
"""

PYPROJECT = """
[tool.pytest.ini_options]
asyncio_default_fixture_loop_scope = "function"

[tool.testbed]
app = "tpl_app.main:app"
alembic_ini = "alembic.ini"
sessionmakers = ["tpl_app.db:SessionLocal"]
{setting}
"""


def write_suite(root: Path, *, rows: int) -> Path:
    path = root / "template-suite"
    versions = path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (path / "tpl_app").mkdir()
    (path / "tpl_app" / "__init__.py").write_text("")
    (path / "tpl_app" / "db.py").write_text(DB)
    (path / "tpl_app" / "main.py").write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    (path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (path / "migrations" / "env.py").write_text(ENV)
    for number in range(1, MIGRATIONS + 1):
        previous = f'"{number - 1:04d}"' if number > 1 else "None"
        migration = TABLE_MIGRATION.format(number=number, previous=previous)
        (versions / f"{number:04d}_table.py").write_text(migration)
    data = DATA_MIGRATION.format(previous=MIGRATIONS, rows=rows)
    (versions / "data.py").write_text(data)
    (path / "test_suite.py").write_text(SUITE.format(tests=TESTS, rows=rows))
    return path


def measure(
    path: Path, targets: list[Database], workers: Sequence[int], rounds: int
) -> tuple[dict[tuple[str, int, bool], list[float]], list[str]]:
    walls: dict[tuple[str, int, bool], list[float]] = {}
    failures: list[str] = []
    for number in range(rounds):
        for target in targets:
            for count in workers:
                for on in (True, False) if number % 2 else (False, True):
                    setting = "xdist_template = true" if on else ""
                    (path / "pyproject.toml").write_text(PYPROJECT.format(setting=setting))
                    label = f"{target.name} -n {count} template {'on' if on else 'off'}"
                    arguments = ["-p", "no:cacheprovider", "-n", str(count)]
                    run = run_pytest(
                        path,
                        arguments + target.testbed_options("test_tplbench"),
                        label=label,
                        env=child_environment(),
                    )
                    ok = run.ok(TESTS)
                    print(f"  {label:<36} {run.wall_seconds:6.2f}s  {'ok' if ok else 'FAILED'}")
                    if not ok:
                        failures.append(label)
                        print(run.output[-3000:], file=sys.stderr)
                        continue
                    walls.setdefault((target.name, count, on), []).append(run.wall_seconds)
    return walls, failures


def table(walls: dict[tuple[str, int, bool], list[float]], targets: list[Database]) -> str:
    lines = [
        "| database | workers | template off, s | template on, s | on / off |",
        "|---|---:|---:|---:|---:|",
    ]
    for target in targets:
        for count in sorted({key[1] for key in walls if key[0] == target.name}):
            off = walls.get((target.name, count, False))
            on = walls.get((target.name, count, True))
            if not off or not on:
                continue
            median_off, median_on = statistics.median(off), statistics.median(on)
            lines.append(
                f"| {target.name} | {count} | {median_off:.2f} | {median_on:.2f} "
                f"| {median_on / median_off:.2f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/template.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI: one round, -n 2, light work")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--databases", default=",".join(DRIVERS))
    arguments = parser.parse_args(argv)
    rounds = arguments.rounds or (1 if arguments.quick else 4)
    workers = (2,) if arguments.quick else (2, 4)
    targets = databases(
        arguments.databases.split(","), postgresql=POSTGRESQL_SERVER, mariadb=MARIADB_SERVER
    )
    with tempfile.TemporaryDirectory(prefix="testbed-template-") as folder:
        path = write_suite(Path(folder), rows=200 if arguments.quick else 2000)
        walls, failures = measure(path, targets, workers, rounds)
    print(f"\n{TESTS} tests, {MIGRATIONS} migrations and a data migration; median of {rounds}:\n")
    print(table(walls, targets))
    if failures:
        print("FAILED: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
