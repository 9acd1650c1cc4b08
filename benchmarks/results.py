"""What the runs measured, the goals of issue 13 as ratios, and the tables printed at the end.

Every figure is a median over the rounds (each round runs every suite once, interleaved), and
net of pytest's own cost:

* per-test costs: a kind's milliseconds minus those of ``test_empty`` in the floor's suite of the
  same database, runner and round (pytest and the runner alone: the floor's fixtures are not
  requested by ``test_empty``); the plugin's own per-test work counts against the plugin;
* time to the first test: minus the bare suite's (one empty test, no database) in the same round;
  and, for what the plugin itself adds, minus the app suite's instead (the same empty test after
  a conftest that imports the app: FastAPI, pydantic, SQLAlchemy, which every suite pays);
* ``-n 0`` and ``-n 2``: wall time minus that of pytest collecting nothing, same round.

The goals (issue 13):

1. isolation: ``db_session`` + ``select 1`` at most 2 times the floor, every database and runner;
2. API test (POST, GET, one read) at most 0.5 times the hand-written conftest, every database;
3. setup: with ``--reuse-db`` and the schema unchanged, at most 150 ms to the first test on
   PostgreSQL (shown net of pytest's start-up, and net of pytest's start-up and the app's
   import); the first build at most 1.5 times the hand-written ``create_all`` /
   ``alembic upgrade head`` (the same database creation, app import and first connection);
4. ``-n 2`` at least 1.85 times as fast as ``-n 0`` on PostgreSQL and SQLite.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.patterns import PATTERNS, RUNNERS

KIND_TITLES = {"select": "`db_session` + `select 1`", "api": "POST + GET + one read"}
SCHEMA_TITLES = {"metadata": "create_all", "alembic": "alembic upgrade head"}
# Ratios: (1) plugin / floor, (2) plugin / hand-written, (3) first build plugin / hand-written,
# (4) -n 0 time / -n 2 time; and the warm first test's milliseconds on PostgreSQL.
TARGETS = {1: 2.0, 2: 0.5, 3: 1.5, 4: 1.85}
WARM_FIRST_TEST_MS = 150.0
GOAL_DATABASES = {3: ("postgresql",), 4: ("postgresql", "sqlite")}  # where others are shown only


def median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


@dataclass
class Measurements:
    """Raw readings, keyed by what was run and the round it was run in."""

    databases: list[str]
    runners: list[str]
    patterns: list[str]
    rounds: int
    tests: int
    parallel_tests: int
    parts: tuple[str, ...] = ("per-test", "setup", "parallel")
    # (database, runner, pattern, kind, round) -> ms per test (middle-half mean)
    test_ms: dict[tuple[str, str, str, str, int], float] = field(default_factory=dict)
    # (database, pattern, schema, state, round) -> seconds to the end of the first test
    first_test: dict[tuple[str, str, str, str, int], float] = field(default_factory=dict)
    # (database, pattern, workers, round) -> wall seconds; ("-", "-", workers, round): pytest
    # collecting nothing
    wall: dict[tuple[str, str, int, int], float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    minutes: float = 0.0

    # --- net figures, medians over the rounds -----------------------------------------------------
    def per_test_ms(self, database: str, runner: str, pattern: str, kind: str) -> float | None:
        """Milliseconds per test of this kind, less the floor's empty test, median of rounds."""
        nets = []
        for round_ in range(self.rounds):
            value = self.test_ms.get((database, runner, pattern, kind, round_))
            baseline = self.test_ms.get((database, runner, "floor", "empty", round_))
            if value is not None and baseline is not None:
                nets.append(value - baseline)
        return median(nets)

    def empty_ms(self, database: str, runner: str) -> float | None:
        rounds = range(self.rounds)
        return median(self.test_ms.get((database, runner, "floor", "empty", r)) for r in rounds)

    def first_test_ms(
        self, database: str, pattern: str, schema: str, state: str, *, less: str = "bare"
    ) -> float | None:
        """Ms to the end of the first test, less the ``less`` suite's ("bare": pytest's
        start-up; "app": pytest's start-up and the app's import), median of the rounds."""
        nets = []
        for round_ in range(self.rounds):
            value = self.first_test.get((database, pattern, schema, state, round_))
            baseline = self.first_test.get((database, less, "metadata", "cold", round_))
            if value is not None and baseline is not None:
                nets.append(1000 * (value - baseline))
        return median(nets)

    def xdist_start_seconds(self) -> float | None:
        """What ``-n 2`` adds to pytest collecting nothing: pytest-xdist's own start-up."""
        nets = []
        for round_ in range(self.rounds):
            two = self.wall.get(("-", "-", 2, round_))
            zero = self.wall.get(("-", "-", 0, round_))
            if two is not None and zero is not None:
                nets.append(two - zero)
        return median(nets)

    def parallel_seconds(self, database: str, pattern: str, workers: int) -> float | None:
        nets = []
        for round_ in range(self.rounds):
            value = self.wall.get((database, pattern, workers, round_))
            nothing = self.wall.get(("-", "-", 0, round_))
            if value is not None and nothing is not None:
                nets.append(value - nothing)
        return median(nets)

    def speed_up(self, database: str, pattern: str) -> float | None:
        return _ratio(
            self.parallel_seconds(database, pattern, 0), self.parallel_seconds(database, pattern, 2)
        )

    # --- the goals --------------------------------------------------------------------------------
    def goals(self) -> list[Goal]:
        parts = {1: "per-test", 2: "per-test", 3: "setup", 4: "parallel"}
        return [goal for goal in self._goals() if parts[goal.number] in self.parts]

    def _goals(self) -> list[Goal]:
        """Every goal on every database, in the order of the goals table's rows."""
        goals: list[Goal] = []
        for runner in self.runners:
            what = f"`db_session` + `select 1`, plugin / floor, {RUNNERS[runner].title}"
            for database in self.databases:
                isolation = _ratio(
                    self.per_test_ms(database, runner, "plugin", "select"),
                    self.per_test_ms(database, runner, "floor", "select"),
                )
                goals.append(Goal(1, what, database, isolation))
        for runner in self.runners:
            what = f"API test, plugin / hand-written, {RUNNERS[runner].title}"
            for database in self.databases:
                api = _ratio(
                    self.per_test_ms(database, runner, "plugin", "api"),
                    self.per_test_ms(database, runner, "hand", "api"),
                )
                goals.append(Goal(2, what, database, api))
        for less, net in (("bare", ""), ("app", ", less importing the app")):
            for schema, title in SCHEMA_TITLES.items():
                what = f"first test with `--reuse-db`, schema unchanged ({title}){net}, ms"
                for database in self.databases:
                    warm = self.first_test_ms(database, "plugin", schema, "warm", less=less)
                    counted = database in GOAL_DATABASES[3]
                    goals.append(Goal(3, what, database, warm, unit=" ms", counted=counted))
        for schema, title in SCHEMA_TITLES.items():
            what = f"first build, plugin / hand-written {title}"
            for database in self.databases:
                build = _ratio(
                    self.first_test_ms(database, "plugin", schema, "cold"),
                    self.first_test_ms(database, "hand", schema, "cold"),
                )
                goals.append(Goal(3, what, database, build))
        for pattern in ("plugin", "hand"):
            what = f"`-n 2` speed-up over `-n 0`, {PATTERNS[pattern].title}"
            for database in self.databases:
                counted = pattern == "plugin" and database in GOAL_DATABASES[4]
                speed_up = self.speed_up(database, pattern)
                goals.append(Goal(4, what, database, speed_up, counted=counted))
        return goals

    # --- tables -----------------------------------------------------------------------------------
    def markdown(self) -> str:
        tables = {
            "per-test": self._per_test_table,
            "setup": self._setup_table,
            "parallel": self._parallel_table,
        }
        lines: list[str] = []
        for part, table in tables.items():
            if part in self.parts:
                lines += [*table(), ""]
        return "\n".join([*lines, *goals_table(self.goals(), self.databases)])

    def _per_test_table(self) -> list[str]:
        patterns = [p for p in self.patterns if p in PATTERNS]
        titles = " | ".join(PATTERNS[p].title for p in patterns)
        lines = [
            f"Per test, ms, net of an empty test ({self.tests} tests of each kind per suite, "
            f"seed 000 a fifth of that; median of {self.rounds} round(s)):",
            "",
            f"| database | runner | test | {titles} | empty test |",
            "|---|---|---|" + "---:|" * (len(patterns) + 1),
        ]
        for database in self.databases:
            for runner in self.runners:
                for kind, title in KIND_TITLES.items():
                    cells = [
                        _ms(self.per_test_ms(database, runner, p, kind))
                        if kind in PATTERNS[p].kinds
                        else ""
                        for p in patterns
                    ]
                    empty = _ms(self.empty_ms(database, runner))
                    lines.append(
                        f"| {database} | {RUNNERS[runner].title} | {title} | "
                        + " | ".join(cells)
                        + f" | {empty} |"
                    )
        return lines

    def _setup_table(self) -> list[str]:
        lines = [
            "Time to the end of the first test (database, schema, app, connection, `select 1`), "
            "ms, net of pytest's start-up; the last column also net of importing the app "
            "(a conftest importing only the app, one empty test):",
            "",
            "| database | schema by | plugin, first build | plugin, `--reuse-db` warm "
            "| hand-written conftest | importing the app | plugin, `--reuse-db` warm, "
            "less importing the app |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        columns = (("plugin", "cold"), ("plugin", "warm"), ("hand", "cold"))
        for database in self.databases:
            app = _ms(self.first_test_ms(database, "app", "metadata", "cold"), digits=0)
            for schema, title in SCHEMA_TITLES.items():
                cells = [
                    _ms(self.first_test_ms(database, pattern, schema, state), digits=0)
                    for pattern, state in columns
                ]
                warm = self.first_test_ms(database, "plugin", schema, "warm", less="app")
                cells += [app, _ms(warm, digits=0)]
                lines.append(f"| {database} | `{title}` | {' | '.join(cells)} |")
        return lines

    def _parallel_table(self) -> list[str]:
        lines = [
            f"An API suite of {self.parallel_tests} tests, seconds net of pytest's start-up:",
            "",
            "| database | plugin `-n 0` | plugin `-n 2` | speed-up | hand-written `-n 0` "
            "| hand-written `-n 2` | speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for database in self.databases:
            cells = []
            for pattern in ("plugin", "hand"):
                cells += [
                    _ms(self.parallel_seconds(database, pattern, 0)),
                    _ms(self.parallel_seconds(database, pattern, 2)),
                    _ms(self.speed_up(database, pattern)),
                ]
            lines.append(f"| {database} | " + " | ".join(cells) + " |")
        start = self.xdist_start_seconds()
        if start is not None:
            lines += [
                "",
                f"pytest-xdist alone (no plugin, no tests) starts two workers in {start:.2f} s.",
            ]
        return lines

    def as_json(self, command: Sequence[str]) -> dict[str, object]:
        return {
            "command": list(command),
            "machine": self.machine,
            "minutes": self.minutes,
            "databases": self.databases,
            "runners": self.runners,
            "patterns": self.patterns,
            "parts": list(self.parts),
            "rounds": self.rounds,
            "tests": self.tests,
            "parallel_tests": self.parallel_tests,
            "test_ms": [[*key, value] for key, value in self.test_ms.items()],
            "first_test_seconds": [[*key, value] for key, value in self.first_test.items()],
            "wall_seconds": [[*key, value] for key, value in self.wall.items()],
            "goals": [goal.as_dict() for goal in self.goals()],
            "failures": self.failures,
        }


def from_json(data: dict[str, Any]) -> Measurements:
    """The measurements of a run saved with ``--json`` (to print its tables again)."""
    test_ms = {tuple(row[:-1]): row[-1] for row in data["test_ms"]}
    first_test = {tuple(row[:-1]): row[-1] for row in data["first_test_seconds"]}
    wall = {tuple(row[:-1]): row[-1] for row in data["wall_seconds"]}  # as saved by as_json

    def seen(position: int, keys: Iterable[tuple[Any, ...]]) -> list[str]:
        return list(dict.fromkeys(key[position] for key in keys))

    return Measurements(
        databases=data.get("databases") or seen(0, test_ms),
        runners=data.get("runners") or seen(1, test_ms),
        patterns=data.get("patterns") or seen(2, test_ms),
        rounds=data["rounds"],
        tests=data["tests"],
        parallel_tests=data["parallel_tests"],
        parts=tuple(data.get("parts") or ("per-test", "setup", "parallel")),
        test_ms=test_ms,
        first_test=first_test,
        wall=wall,
        failures=data["failures"],
        machine=data["machine"],
        minutes=data.get("minutes", 0.0),
    )


@dataclass(frozen=True)
class Goal:
    """One goal on one database: the figure measured against its target."""

    number: int
    what: str
    database: str
    measured: float | None
    unit: str = ""  # " ms" for a time, "" for a ratio
    counted: bool = True  # False: shown for comparison, not part of the goal

    @property
    def target(self) -> float:
        if self.number == 3 and self.unit:
            return WARM_FIRST_TEST_MS
        return TARGETS[self.number]

    @property
    def higher_is_better(self) -> bool:
        return self.number == 4

    @property
    def met(self) -> bool | None:
        if self.measured is None or not self.counted:
            return None
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured <= self.target

    def cell(self) -> str:
        """``1.32 met``, ``5.10 not met``; in brackets where it is not part of the goal."""
        if self.measured is None:
            return "not measured"
        value = f"{self.measured:.{0 if self.unit else 2}f}"
        if not self.counted:
            return f"({value})"
        return f"{value} {'met' if self.met else 'not met'}"

    def as_dict(self) -> dict[str, object]:
        return {
            "goal": self.number,
            "what": self.what,
            "database": self.database,
            "measured": self.measured,
            "target": self.target,
            "met": self.met,
        }


def goals_table(goals: Sequence[Goal], databases: Sequence[str]) -> list[str]:
    """One row per goal (and runner or schema), one column per database."""
    lines = [
        "Goals of issue 13 (brackets: shown for comparison, not part of the goal):",
        "",
        f"| goal | target | {' | '.join(databases)} |",
        "|---|---|" + "---|" * len(databases),
    ]
    rows: dict[tuple[int, str], dict[str, Goal]] = {}
    for goal in goals:
        rows.setdefault((goal.number, goal.what), {})[goal.database] = goal
    for (number, what), by_database in rows.items():
        first = next(iter(by_database.values()))
        sign = ">=" if first.higher_is_better else "<="
        cells = " | ".join(by_database[d].cell() if d in by_database else "" for d in databases)
        lines.append(f"| ({number}) {what} | {sign} {first.target:g}{first.unit} | {cells} |")
    return lines


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _ms(value: float | None, *, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"
