"""Fault tests: pytest runs in real subprocesses, which the tests kill, interrupt or run at once."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project


class Run:
    """A pytest process started in a project's folder, its output in a file."""

    def __init__(
        self, folder: Path, args: list[str], name: str = "run", env: dict[str, str] | None = None
    ) -> None:
        self.log = folder / f"{name}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:cacheprovider",
                    *args,
                ],
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                start_new_session=True,  # a signal goes to it alone, never to the outer pytest
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` is in the output (the process still running)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"ended ({self.process.returncode}) before {text!r}:\n{self.output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} after {timeout}s:\n{self.output}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        """kill -9 the run and every process it started (xdist's workers), as CI's cancel does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout}s:\n{self.output}") from None


class Runner:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.runs: list[Run] = []

    def start(self, *args: str, name: str = "run", env: dict[str, str] | None = None) -> Run:
        options = list(args)
        if self.project.server and not any(a.startswith("--testbed-db-url") for a in args):
            options += ["--testbed-db-url", self.project.server]
        run = Run(self.project.pytester.path, options, name=f"{name}{len(self.runs)}", env=env)
        self.runs.append(run)
        return run

    def __call__(
        self, *args: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Run to the end: (exit code, output)."""
        run = self.start(*args, env=env)
        return run.wait(timeout), run.output


_numbers = itertools.count()


@pytest.fixture
def spawn(project: Project) -> Iterator[Runner]:
    """Start pytest in ``project``'s folder as real subprocesses; kills what is left at the end."""
    server, name = project.server, f"test_tbfault_{os.getpid()}_{next(_numbers)}"
    if server is not None:  # a name no other run on the server is using
        project.server = server + name
    runner = Runner(project)
    yield runner
    for run in runner.runs:
        if run.process.poll() is None:
            run.kill()
    if server is not None:  # what --reuse-db runs kept (test_x, test_x_2...): ours to remove
        _drop_like(server, name)


def _drop_like(server: str, prefix: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server)
    postgres = url.get_backend_name() == "postgresql"
    if postgres:
        url = url.set(drivername="postgresql+psycopg", database="postgres")
        query = "SELECT datname FROM pg_database WHERE datname LIKE :like"
    else:
        url = url.set(drivername="mysql+pymysql")
        query = "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :like"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            names = connection.execute(text(query), {"like": prefix + "%"}).scalars().all()
            for found in names:
                assert found.startswith("test_tbfault_")
                quoted = f'"{found}" WITH (FORCE)' if postgres else f"`{found}`"
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        engine.dispose()


def wait_for_file(path: Path, run: Run, timeout: float = 60) -> str:
    """Wait until a test of ``run`` wrote ``path``; its content."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if run.process.poll() is not None:
            raise AssertionError(
                f"ended ({run.process.returncode}) before {path.name}:\n{run.output}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} after {timeout}s:\n{run.output}")
        time.sleep(0.05)
    time.sleep(0.05)  # the write is complete
    return path.read_text()
