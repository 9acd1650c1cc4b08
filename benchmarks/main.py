"""The command line, and the order of the runs: every suite once per round, rounds interleaved.

A round runs, database by database: the per-test suites (every pattern under every runner), the
first-test suites (the bare one; per schema source, the plugin cold with ``--reuse-db`` onto no
database, the plugin warm with ``--reuse-db`` again, and the hand-written conftest), and the
plugin's API suite with ``-n 0`` and ``-n 2``. The order of the patterns turns by one each round,
so none is always first after a change of database.

It exits 1 when a suite fails (a test failed, or fewer passed than were generated), whatever the
timings: the machines are shared and noisy, so the timings are printed, never enforced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from benchmarks.measure import NO_TESTS_COLLECTED, Run, child_environment, run_pytest
from benchmarks.patterns import PATTERNS, RUNNERS
from benchmarks.results import Measurements, from_json
from benchmarks.servers import DRIVERS, Database, databases
from benchmarks.suites import (
    APP_ONLY,
    Suite,
    write_first_test_suite,
    write_nothing,
    write_parallel_suite,
    write_per_test_suite,
)

POSTGRESQL_SERVER = os.environ.get("TESTBED_PG_URL", "postgresql://postgres@127.0.0.1:5432/")
MARIADB_SERVER = os.environ.get("TESTBED_MARIADB_URL", "mysql://root@127.0.0.1:3306/")
SCHEMAS = ("metadata", "alembic")
PARTS = ("per-test", "setup", "parallel")
PARALLEL_PATTERNS = ("plugin", "hand")  # the hand-written conftest: what xdist gives without it
OLD_PATTERNS = ("seed000", "cleanup")  # in no goal: --quick runs them under pytest-asyncio only
FULL = {"tests": 200, "rounds": 5, "parallel_tests": 1000}
BARE_OPTIONS = ("-p", "no:testbed", "-p", "no:testbed_fakes", "-p", "no:sqla")
QUICK = {"tests": 20, "rounds": 1, "parallel_tests": 60}


class Bench:
    """The suites of one benchmark, where they run, and what they measured."""

    def __init__(
        self,
        root: Path,
        targets: list[Database],
        measurements: Measurements,
        *,
        parts: Sequence[str] = PARTS,
        old_runners: Sequence[str] = tuple(RUNNERS),
    ) -> None:
        self.root = root
        self.targets = targets
        self.m = measurements
        self.parts = parts
        self.per_test = {
            (pattern, runner): write_per_test_suite(
                root, PATTERNS[pattern], RUNNERS[runner], tests=measurements.tests
            )
            for pattern in measurements.patterns
            for runner in measurements.runners
            if pattern not in OLD_PATTERNS or runner in old_runners
        }
        self.first = {
            (pattern, schema): write_first_test_suite(root, PATTERNS[pattern], schema)
            for pattern in ("plugin", "hand")
            for schema in SCHEMAS
        }
        self.bare = write_first_test_suite(root, None, "metadata")
        self.app_only = write_first_test_suite(root, APP_ONLY, "metadata")
        self.parallel = [
            write_parallel_suite(root, PATTERNS[pattern], tests=measurements.parallel_tests)
            for pattern in PARALLEL_PATTERNS
        ]
        self.nothing = write_nothing(root)

    # --- one suite --------------------------------------------------------------------------------
    def run(
        self,
        suite: Suite,
        target: Database,
        *,
        extra: Sequence[str] = (),
        database: str | None = None,
        timed: bool = False,
    ) -> Run:
        """Run ``suite`` on ``target``; report on stderr; note a failure."""
        env: dict[str, str] = {}
        arguments = [*suite.options, *extra]
        if suite.pattern.plugin == "testbed":
            arguments += target.testbed_options(database)
        elif suite.pattern.body is not None:  # the app's URL, set by the conftest
            env["BENCH_DATABASE_URL"] = target.url(suite.database, folder=suite.path)
        if suite.pattern.plugin == "sqla":
            env["PYTEST_SQLA_URL"] = target.url(suite.database, folder=suite.path, sync=True)
            env["PYTEST_SQLA_ASYNC_URL"] = env["BENCH_DATABASE_URL"]
        label = f"{target.name:<10} {suite.name} {' '.join(extra)}".rstrip()
        if suite.pattern.given_database:  # made just before, as a CI job's database service is
            target.create(suite.database, folder=suite.path)
        try:
            run = run_pytest(
                suite.path,
                arguments,
                label=label,
                env=child_environment(env),
                first_test_file=suite.first_test_file if timed else None,
            )
        finally:
            if suite.pattern.given_database:
                target.drop([suite.database])
        ok = run.ok(suite.expected)
        first = (
            "" if run.first_test_seconds is None else f", first test {run.first_test_seconds:.3f}s"
        )
        print(
            f"  {label:<44} {run.wall_seconds:6.2f}s wall{first}  {'ok' if ok else 'FAILED'}",
            file=sys.stderr,
            flush=True,
        )
        if not ok:
            self.m.failures.append(label)
            print(run.output[-4000:], file=sys.stderr)
        return run

    # --- a round ----------------------------------------------------------------------------------
    def round(self, number: int) -> None:
        print(f"round {number + 1} of {self.m.rounds}", file=sys.stderr, flush=True)
        nothing = run_pytest(self.nothing, BARE_OPTIONS, label="nothing")
        if nothing.returncode != NO_TESTS_COLLECTED:
            self.m.failures.append(f"pytest collecting nothing exited {nothing.returncode}")
        self.m.wall["-", "-", 0, number] = nothing.wall_seconds
        turn = number % len(self.m.patterns)
        patterns = self.m.patterns[turn:] + self.m.patterns[:turn]
        for target in self.targets:
            if "per-test" in self.parts:
                for runner in self.m.runners:
                    for pattern in patterns:
                        if (pattern, runner) in self.per_test:
                            self.per_test_suite(self.per_test[pattern, runner], target, number)
            if "setup" in self.parts:
                self.first_tests(target, number)
            if "parallel" in self.parts:
                if target is self.targets[0]:
                    self.xdist_alone(number)
                for suite in self.parallel:
                    for workers in (0, 2):
                        run = self.run(suite, target, extra=("-n", str(workers)))
                        if run.ok(suite.expected):
                            key = (target.name, suite.pattern.name, workers, number)
                            self.m.wall[key] = run.wall_seconds

    def xdist_alone(self, number: int) -> None:
        """pytest collecting nothing with ``-n 2``: what starting two workers costs by itself."""
        run = run_pytest(self.nothing, [*BARE_OPTIONS, "-n", "2"], label="nothing -n 2")
        if run.returncode == NO_TESTS_COLLECTED:
            self.m.wall["-", "-", 2, number] = run.wall_seconds

    def per_test_suite(self, suite: Suite, target: Database, number: int) -> None:
        run = self.run(suite, target)
        if not run.ok(suite.expected):
            return  # a failed suite's figures would not be what they claim to be
        for kind, ms in run.test_ms.items():
            self.m.test_ms[target.name, suite.runner.name, suite.pattern.name, kind, number] = ms

    def first_tests(self, target: Database, number: int) -> None:
        """Time to the first test: bare, the app's import alone, then per schema: plugin cold,
        plugin warm, hand-written."""
        self.timed(self.bare, target, ("bare", "metadata", "cold"), number)
        self.timed(self.app_only, target, ("app", "metadata", "cold"), number)
        for schema in SCHEMAS:
            suite = self.first["plugin", schema]
            self.forget_reused(suite, target)
            for state in ("cold", "warm"):
                self.timed(suite, target, ("plugin", schema, state), number, reuse=True)
            self.timed(self.first["hand", schema], target, ("hand", schema, "cold"), number)

    def timed(
        self,
        suite: Suite,
        target: Database,
        key: tuple[str, str, str],
        number: int,
        *,
        reuse: bool = False,
    ) -> None:
        extra = ("--reuse-db",) if reuse else ()
        run = self.run(suite, target, extra=extra, database=suite.database, timed=True)
        if run.ok(suite.expected) and run.first_test_seconds is not None:
            self.m.first_test[(target.name, *key, number)] = run.first_test_seconds

    def forget_reused(self, suite: Suite, target: Database) -> None:
        """Remove what an earlier ``--reuse-db`` run kept, so the next run builds from nothing."""
        target.drop([suite.database])
        shutil.rmtree(suite.path / ".pytest_cache" / "testbed", ignore_errors=True)

    # --- the databases the benchmark itself makes -------------------------------------------------
    def every_database(self) -> list[str]:
        suites = [*self.per_test.values(), *self.first.values()]
        # this run's own names; the plugin drops its own databases (and a killed run's, next time)
        names = {suite.database for suite in suites}
        names |= {f"{suite.database}_gw{n}" for suite in self.parallel for n in (0, 1)}
        return sorted(names)  # every one left by a suite that crashed


def machine(targets: Sequence[Database]) -> dict[str, str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": dt.date.today().isoformat(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "databases": ", ".join(target.version() for target in targets),
        "load": load_average(),
        "revision": revision(),
    }


def revision() -> str:
    """The commit measured, ``+changes`` when the plugin's source differs from it."""

    def git(*arguments: str) -> str:
        command = ["git", "-C", str(Path(__file__).parent), *arguments]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "../src")
    return f"{commit}+changes" if changed else commit


def load_average() -> str:
    """The machine's 1-minute load average: how busy the others sharing it keep it."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


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


def benchmark(arguments: argparse.Namespace) -> Measurements:
    targets = databases(
        arguments.databases, postgresql=arguments.postgresql_url, mariadb=arguments.mariadb_url
    )
    m = Measurements(
        databases=arguments.databases,
        runners=arguments.runners,
        patterns=arguments.patterns,
        rounds=arguments.rounds,
        tests=arguments.tests,
        parallel_tests=arguments.parallel_tests,
        parts=tuple(arguments.parts),
        machine=machine(targets),
    )
    with workspace(arguments.keep) as root:
        started = time.perf_counter()
        old_runners = m.runners[:1] if arguments.quick else m.runners
        bench = Bench(root, targets, m, parts=arguments.parts, old_runners=old_runners)
        # Unmeasured: the first start compiles bytecode and warms the file cache.
        run_pytest(bench.nothing, [], label="warm-up")
        try:
            for number in range(m.rounds):
                bench.round(number)
        finally:
            for target in targets:
                target.drop(bench.every_database())
            m.minutes = (time.perf_counter() - started) / 60
            m.machine["load_at_end"] = load_average()
    return m


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Measure fastapi-testbed against the hand-written conftest, pytest-sqla, "
        "the floor and two old patterns; print the goals of issue 13 as ratios.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"few tests, one round (CI): {QUICK['tests']} tests of each kind, "
        f"{QUICK['parallel_tests']} in the -n 2 suite",
    )
    parser.add_argument("--tests", type=int, help=f"tests of each kind (default {FULL['tests']})")
    parser.add_argument(
        "--rounds", type=int, help=f"rounds, medians reported (default {FULL['rounds']})"
    )
    parser.add_argument(
        "--parallel-tests",
        type=int,
        help=f"tests in the -n 0 / -n 2 suite (default {FULL['parallel_tests']})",
    )
    parser.add_argument("--databases", default=",".join(DRIVERS), help="default: all three")
    parser.add_argument("--runners", default=",".join(RUNNERS), help="default: both")
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="default: all")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="what to measure: per-test (isolation, API), setup (first test), parallel (-n 2); "
        "default: all",
    )
    parser.add_argument("--postgresql-url", default=POSTGRESQL_SERVER)
    parser.add_argument("--mariadb-url", default=MARIADB_SERVER)
    parser.add_argument("--json", type=Path, metavar="PATH", help="save every reading here")
    parser.add_argument("--keep", action="store_true", help="keep the generated suites")
    parser.add_argument(
        "--tables-from",
        type=Path,
        metavar="PATH",
        help="measure nothing: print the tables of a run saved with --json",
    )
    arguments = parser.parse_args(argv)
    preset = QUICK if arguments.quick else FULL
    for name, value in preset.items():
        if getattr(arguments, name) is None:
            setattr(arguments, name, value)
    if min(arguments.tests, arguments.rounds, arguments.parallel_tests) < 1:
        parser.error("--tests, --rounds and --parallel-tests must be at least 1")
    choices: dict[str, Sequence[str]] = {
        "databases": tuple(DRIVERS),
        "runners": tuple(RUNNERS),
        "patterns": tuple(PATTERNS),
        "parts": PARTS,
    }
    for option, known in choices.items():
        chosen = [name.strip() for name in getattr(arguments, option).split(",") if name.strip()]
        unknown = sorted(set(chosen) - set(known))
        if unknown or not chosen:
            parser.error(f"--{option}: expected some of {', '.join(known)}, got {unknown}")
        setattr(arguments, option, chosen)
    if "floor" not in arguments.patterns:
        arguments.patterns.append("floor")  # its empty test is every per-test baseline
    for name in ("postgresql_url", "mariadb_url"):
        setattr(arguments, name, getattr(arguments, name).rstrip("/") + "/")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.tables_from is not None:
        m = from_json(json.loads(arguments.tables_from.read_text()))
    else:
        m = benchmark(arguments)
    info = m.machine
    print(
        f"Measured {info['date']}: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"{info['databases']}; {m.rounds} round(s) in {m.minutes:.1f} minutes, load average "
        f"{info['load']} at the start, {info.get('load_at_end', '?')} at the end; "
        f"plugin at {info.get('revision', 'unknown')}.\n"
    )
    print(m.markdown())
    if arguments.json is not None:
        command = ["benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]
        arguments.json.write_text(json.dumps(m.as_json(command), indent=2) + "\n")
    if m.failures:
        print("FAILED: " + ", ".join(m.failures), file=sys.stderr)
        return 1
    return 0
