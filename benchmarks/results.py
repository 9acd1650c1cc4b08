"""What the runs measured, the goals of issue 13 as ratios, and the tables printed at the end.

Every figure is a median over the rounds (each round runs every suite once, interleaved), and
net of pytest's own cost:

* per-test costs: a kind's milliseconds minus those of ``test_empty`` in the floor's suite of the
  same database, runner and round (pytest and the runner alone: the floor's fixtures are not
  requested by ``test_empty``); the plugin's own per-test work counts against the plugin;
* time to the first test: minus the bare suite's (one empty test, no database) in the same round;
* ``-n 0`` and ``-n 2``: wall time minus that of pytest collecting nothing, same round.

The goals (issue 13):

1. isolation: ``db_session`` + ``select 1`` at most 2 times the floor, every database and runner;
2. API test (POST, GET, one read) at most 0.5 times the hand-written conftest, every database;
3. setup: with ``--reuse-db`` and the schema unchanged, at most 150 ms to the first test on
   PostgreSQL; the first build at most 1.5 times the hand-written ``create_all`` /
   ``alembic upgrade head`` (the same database creation, app import and first connection);
4. ``-n 2`` at least 1.85 times as fast as ``-n 0`` on PostgreSQL and SQLite.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from benchmarks.patterns import PATTERNS, RUNNERS

KIND_TITLES = {"select": "`db_session` + `select 1`", "api": "POST + GET + one read"}
SCHEMA_TITLES = {"metadata": "create_all", "alembic": "alembic upgrade head"}
GOAL_DATABASES = {3: ("postgresql",), 4: ("postgresql", "sqlite")}


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
    # (database, workers, round) -> wall seconds; ("-", 0, round): pytest collecting nothing
    wall: dict[tuple[str, int, int], float] = field(default_factory=dict)
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

    def first_test_ms(self, database: str, pattern: str, schema: str, state: str) -> float | None:
        nets = []
        for round_ in range(self.rounds):
            value = self.first_test.get((database, pattern, schema, state, round_))
            bare = self.first_test.get((database, "bare", "metadata", "cold", round_))
            if value is not None and bare is not None:
                nets.append(1000 * (value - bare))
        return median(nets)

    def parallel_seconds(self, database: str, workers: int) -> float | None:
        nets = []
        for round_ in range(self.rounds):
            value = self.wall.get((database, workers, round_))
            nothing = self.wall.get(("-", 0, round_))
            if value is not None and nothing is not None:
                nets.append(value - nothing)
        return median(nets)

    # --- the goals --------------------------------------------------------------------------------
    def goals(self) -> list[Goal]:
        parts = {1: "per-test", 2: "per-test", 3: "setup", 4: "parallel"}
        return [goal for goal in self._goals() if parts[goal.number] in self.parts]

    def _goals(self) -> list[Goal]:
        goals: list[Goal] = []
        for database in self.databases:
            for runner in self.runners:
                where = f"{database}, {RUNNERS[runner].title}"
                plugin = self.per_test_ms(database, runner, "plugin", "select")
                floor = self.per_test_ms(database, runner, "floor", "select")
                goals.append(
                    Goal(
                        1,
                        "`db_session` + `select 1`: plugin / floor",
                        where,
                        _ratio(plugin, floor),
                        2.0,
                    )
                )
        for database in self.databases:
            for runner in self.runners:
                where = f"{database}, {RUNNERS[runner].title}"
                plugin = self.per_test_ms(database, runner, "plugin", "api")
                hand = self.per_test_ms(database, runner, "hand", "api")
                goals.append(
                    Goal(2, "API test: plugin / hand-written", where, _ratio(plugin, hand), 0.5)
                )
        for database in self.databases:
            for schema, title in SCHEMA_TITLES.items():
                warm = self.first_test_ms(database, "plugin", schema, "warm")
                goals.append(
                    Goal(
                        3,
                        f"first test, `--reuse-db` warm ({title}), ms",
                        database,
                        warm,
                        150.0,
                        unit=" ms",
                        counted=database in GOAL_DATABASES[3],
                    )
                )
        for database in self.databases:
            for schema, title in SCHEMA_TITLES.items():
                plugin = self.first_test_ms(database, "plugin", schema, "cold")
                hand = self.first_test_ms(database, "hand", schema, "cold")
                goals.append(
                    Goal(
                        3,
                        f"first build: plugin / hand-written {title}",
                        database,
                        _ratio(plugin, hand),
                        1.5,
                    )
                )
        for database in self.databases:
            serial = self.parallel_seconds(database, 0)
            parallel = self.parallel_seconds(database, 2)
            goals.append(
                Goal(
                    4,
                    "`-n 2` speed-up over `-n 0`",
                    database,
                    _ratio(serial, parallel),
                    1.85,
                    higher_is_better=True,
                    counted=database in GOAL_DATABASES[4],
                )
            )
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
        return "\n".join([*lines, *goals_table(self.goals())])

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
        columns = [
            (pattern, schema, state)
            for schema in SCHEMA_TITLES
            for pattern, state in (("plugin", "cold"), ("plugin", "warm"), ("hand", "cold"))
        ]
        titles = {
            ("plugin", "cold"): "plugin, first build",
            ("plugin", "warm"): "plugin, `--reuse-db` warm",
            ("hand", "cold"): "hand-written",
        }
        header = " | ".join(
            f"{titles[pattern, state]} ({SCHEMA_TITLES[schema]})"
            for pattern, schema, state in columns
        )
        lines = [
            "Time to the end of the first test (database, schema, app, connection, `select 1`), "
            "ms, net of pytest's start-up:",
            "",
            f"| database | {header} |",
            "|---|" + "---:|" * len(columns),
        ]
        for database in self.databases:
            cells = [
                _ms(self.first_test_ms(database, pattern, schema, state), digits=0)
                for pattern, schema, state in columns
            ]
            lines.append(f"| {database} | " + " | ".join(cells) + " |")
        return lines

    def _parallel_table(self) -> list[str]:
        lines = [
            f"The plugin's API suite ({self.parallel_tests} tests), seconds net of pytest's "
            "start-up:",
            "",
            "| database | `-n 0` | `-n 2` | speed-up |",
            "|---|---:|---:|---:|",
        ]
        for database in self.databases:
            serial = self.parallel_seconds(database, 0)
            parallel = self.parallel_seconds(database, 2)
            ratio = _ratio(serial, parallel)
            lines.append(
                f"| {database} | {_ms(serial)} | {_ms(parallel)} | "
                f"{'' if ratio is None else f'{ratio:.2f}'} |"
            )
        return lines

    def as_json(self, command: Sequence[str]) -> dict[str, object]:
        return {
            "command": list(command),
            "machine": self.machine,
            "rounds": self.rounds,
            "tests": self.tests,
            "parallel_tests": self.parallel_tests,
            "test_ms": [[*key, value] for key, value in self.test_ms.items()],
            "first_test_seconds": [[*key, value] for key, value in self.first_test.items()],
            "wall_seconds": [[*key, value] for key, value in self.wall.items()],
            "goals": [goal.as_dict() for goal in self.goals()],
            "failures": self.failures,
        }


@dataclass(frozen=True)
class Goal:
    """One goal on one database (and runner): the figure measured against its target."""

    number: int
    what: str
    where: str
    measured: float | None
    target: float
    unit: str = ""
    higher_is_better: bool = False
    counted: bool = True  # False: shown for comparison, not part of the goal

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured <= self.target

    @property
    def verdict(self) -> str:
        if not self.counted:
            return "(not a goal here)"
        return {True: "met", False: "not met", None: "not measured"}[self.met]

    def as_dict(self) -> dict[str, object]:
        return {
            "goal": self.number,
            "what": self.what,
            "where": self.where,
            "measured": self.measured,
            "target": self.target,
            "met": self.met if self.counted else None,
        }


def goals_table(goals: Sequence[Goal]) -> list[str]:
    lines = ["| goal | measured | where | target | |", "|---|---:|---|---:|---|"]
    for goal in goals:
        sign = ">=" if goal.higher_is_better else "<="
        digits = 0 if goal.unit == " ms" else 2
        measured = "" if goal.measured is None else f"{goal.measured:.{digits}f}{goal.unit}"
        target = f"{sign} {goal.target:g}{goal.unit}"
        lines.append(
            f"| ({goal.number}) {goal.what} | {measured} | {goal.where} | {target} | "
            f"{goal.verdict} |"
        )
    return lines


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _ms(value: float | None, *, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"
