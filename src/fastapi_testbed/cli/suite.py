"""Run the project's test suite in a subprocess, in its folder, as the user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SMOKE_TEST", "run_suite", "suite_environment"]

# Variables pytest sets for its own run; a suite started from inside a test must not see them.
_PYTEST_OWN = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_")

SMOKE_TEST = '''"""Written by `fastapi-testbed init`: the app starts and its test database is built.

The fixtures come from fastapi-testbed (no conftest.py needed): `sync_client` runs the app with
its lifespan, `testbed` is the test database. Replace these with tests of your own endpoints.
"""

from sqlalchemy import inspect


def test_app_answers(sync_client, testbed):
    url = getattr(testbed.app, "openapi_url", None) or "/"
    assert sync_client.get(url).status_code < 500


def test_database_has_the_tables(testbed):
    connection = testbed.connection
    if testbed.is_async:
        names = testbed.run(connection.run_sync(lambda c: inspect(c).get_table_names()))
    else:
        names = inspect(connection).get_table_names()
    assert names, f"the test database {testbed.url.database} has no tables"
'''


def suite_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PYTEST_OWN)}


def run_suite(root: Path, args: Sequence[str] = ()) -> int:
    """``python -m pytest`` in ``root`` with this interpreter; its output goes to ours."""
    command = [sys.executable, "-m", "pytest", *args]
    print(f"\n$ {' '.join(['python', *command[1:]])}   (in {root})", flush=True)
    return subprocess.run(command, cwd=root, env=suite_environment(), check=False).returncode
