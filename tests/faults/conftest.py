"""Fault tests: pytest runs in real subprocesses, which the tests kill, interrupt or run at once."""

from __future__ import annotations

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

    def __init__(self, folder: Path, args: list[str], name: str = "run") -> None:
        self.log = folder / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env["PYTHONUNBUFFERED"] = "1"
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
                env=env,
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
        self.process.send_signal(signal.SIGKILL)
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

    def start(self, *args: str, name: str = "run") -> Run:
        options = list(args)
        if self.project.server and not any(a.startswith("--testbed-db-url") for a in args):
            options += ["--testbed-db-url", self.project.server]
        run = Run(self.project.pytester.path, options, name=f"{name}{len(self.runs)}")
        self.runs.append(run)
        return run

    def __call__(self, *args: str, timeout: float = 120) -> tuple[int, str]:
        """Run to the end: (exit code, output)."""
        run = self.start(*args)
        return run.wait(timeout), run.output


@pytest.fixture
def spawn(project: Project) -> Iterator[Runner]:
    """Start pytest in ``project``'s folder as real subprocesses; kills what is left at the end."""
    runner = Runner(project)
    yield runner
    for run in runner.runs:
        if run.process.poll() is None:
            run.kill()
