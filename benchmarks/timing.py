"""The benchmark's pytest plugin: copied into every suite as ``bench_timing.py``, loaded with -p.

* ``$BENCH_DURATIONS_FILE``: each test's setup + call + teardown in seconds, as JSON
  ``{nodeid: seconds}``: the durations pytest writes to its JUnit report, before the report rounds
  them to milliseconds (a 1.4 ms test would read 0.001 there);
* ``$BENCH_FIRST_TEST_FILE``: ``time.time()`` when the call of the first test ended.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator

import pytest

durations: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    durations[report.nodeid] = durations.get(report.nodeid, 0.0) + report.duration


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        path = os.environ.get("BENCH_FIRST_TEST_FILE")
        if path and not os.path.exists(path):
            with open(path, "w") as file:
                file.write(repr(time.time()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("BENCH_DURATIONS_FILE")
    if path and not hasattr(session.config, "workerinput"):  # xdist: the controller writes
        with open(path, "w") as file:
            json.dump(durations, file)
