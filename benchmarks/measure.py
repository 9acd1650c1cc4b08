"""Run one pytest process and read what it cost.

Three readings of one run:

* ``wall_seconds``: the wall time of the process (for ``-n 0`` against ``-n 2``);
* ``test_ms``: per kind of test (``test_select[3]`` is of kind ``select``), the mean of the
  middle half of pytest's own per-test durations (setup + call + teardown, the figures of its
  JUnit report, taken before the report rounds them to milliseconds): robust to a slow test or
  two, like a median, but finer. The first test of a kind, which pays for what a session
  builds, falls outside the middle half;
* ``first_test_seconds``: from the launch of the process to the end of the first test's call
  (the first-test suites only).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUMMARY = re.compile(r"(?P<passed>\d+) passed")
NO_TESTS_COLLECTED = 5

# Variables that would change what a suite runs on, or how: never passed to the suites.
SCRUBBED = ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_XDIST_AUTO_NUM")
SCRUBBED_PREFIXES = ("TESTBED_", "PYTEST_SQLA_", "BENCH_")


@dataclass(frozen=True)
class Run:
    """One pytest process: how it ended, its wall time, and its per-test durations."""

    label: str
    returncode: int
    wall_seconds: float
    passed: int
    test_ms: dict[str, float]
    first_test_seconds: float | None
    output: str = field(repr=False)

    def ok(self, expected: int) -> bool:
        return self.returncode == 0 and self.passed == expected


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, less what would retarget a suite, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SCRUBBED and not name.startswith(SCRUBBED_PREFIXES)
    }
    env.update(extra or {})
    return env


def middle_half_ms(durations: Sequence[float]) -> float:
    ordered = sorted(durations)
    quarter = len(ordered) // 4
    middle = ordered[quarter : len(ordered) - quarter] or ordered
    return 1000 * statistics.mean(middle)


def test_ms_by_kind(durations_file: Path) -> dict[str, float]:
    """Per kind of test (``test_select[3]`` is a ``select``), the middle-half mean in ms."""
    if not durations_file.is_file():
        return {}
    kinds: dict[str, list[float]] = {}
    for nodeid, seconds in json.loads(durations_file.read_text()).items():
        kind = nodeid.rpartition("::")[2].split("[")[0].removeprefix("test_")
        kinds.setdefault(kind, []).append(seconds)
    return {kind: middle_half_ms(durations) for kind, durations in kinds.items()}


def run_pytest(
    cwd: Path,
    arguments: Sequence[str],
    *,
    label: str,
    env: Mapping[str, str] | None = None,
    first_test_file: Path | None = None,
) -> Run:
    """Run ``python -m pytest`` in ``cwd``; never raises for what the suite does.

    A suite with the timing plugin (``bench_timing.py``, see timing.py) reports its durations,
    and with ``first_test_file`` the end of its first test.
    """
    environment = dict(env if env is not None else child_environment())
    durations = cwd / "durations.json"
    durations.unlink(missing_ok=True)
    if (cwd / "bench_timing.py").is_file():
        environment["PYTHONPATH"] = str(cwd)  # where -p finds it
        environment["BENCH_DURATIONS_FILE"] = str(durations)
    if first_test_file is not None:
        first_test_file.unlink(missing_ok=True)
        environment["BENCH_FIRST_TEST_FILE"] = str(first_test_file)
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", *arguments]
    launched = time.time()
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    summaries = SUMMARY.findall(output)
    first = None
    if first_test_file is not None and first_test_file.is_file():
        first = float(first_test_file.read_text()) - launched
    return Run(
        label=label,
        returncode=completed.returncode,
        wall_seconds=wall,
        passed=int(summaries[-1]) if summaries else 0,
        test_ms=test_ms_by_kind(durations),
        first_test_seconds=first,
        output=output,
    )
