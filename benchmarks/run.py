"""Benchmark fastapi-testbed against the ways FastAPI suites isolate their tests without it.

Usage::

    uv run python benchmarks/run.py            # the full run: 5 rounds, 200 tests of each kind
    uv run python benchmarks/run.py --quick    # CI: one round, 20 tests of each kind
    uv run python benchmarks/run.py --databases postgresql --runners asyncio --rounds 3

One run measures, side by side, on SQLite, PostgreSQL and MariaDB, under pytest-asyncio and
anyio: the per-test cost of ``db_session`` + ``select 1`` and of an API test (POST, GET, one read)
for the plugin, the hand-written savepoint conftest, pytest-sqla, the floor (no isolation) and
the two old patterns (seed 000, DELETE after each test); the time to the first test (first
build and ``--reuse-db`` warm, by ``create_all`` and by Alembic, against the hand-written
conftest); and ``-n 2`` against ``-n 0``. It prints the tables and every goal of issue 13 as a
ratio with its target and whether it is met. Timings never fail the run: it exits 1 only when a
benchmarked suite fails. The modules of the ``benchmarks`` package say how each part works.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package

from benchmarks.main import main

if __name__ == "__main__":
    sys.exit(main())
