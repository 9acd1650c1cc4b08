"""Run `fastapi-testbed` and the project's own suite as a user would: real subprocesses."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fastapi_testbed.cli import main
from tests.cli.projects import Files, write

POSTGRES = "postgresql://postgres@127.0.0.1:5432/"


def clean_environment() -> dict[str, str]:
    """This machine's environment without pytest's variables or a database URL of its own."""
    drop = ("PYTEST_", "DATABASE_URL", "TESTBED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Folder:
    """A project written into a folder of its own (inside ``outer``, which holds nothing else)."""

    root: Path
    outer: Path
    capfd: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    def cli(self, *args: str, stdin: str = "") -> Result:
        """The command in this process (it imports none of the project's code): faster."""
        self.capfd.readouterr()
        with self.monkeypatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            code = main([*args[:1], str(self.root), *args[1:]])
        captured = self.capfd.readouterr()
        return Result(code, captured.out, captured.err)

    def cli_process(self, *args: str, stdin: str = "") -> Result:
        """``python -m fastapi_testbed`` in the project's folder, as a user runs it."""
        completed = subprocess.run(
            [sys.executable, "-m", "fastapi_testbed", *args],
            cwd=self.root,
            env=clean_environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def suite(self, *args: str) -> Result:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
            cwd=self.root,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")


@pytest.fixture
def make(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, Files], Folder]:
    def make(name: str, files: Files) -> Folder:
        outer = tmp_path / f"outer_{name}"
        root = outer / name
        root.mkdir(parents=True)
        write(root, files)
        return Folder(root=root, outer=outer, capfd=capfd, monkeypatch=monkeypatch)

    return make


def tree(folder: Path) -> set[str]:
    """Every file under ``folder`` (caches aside), relative to it."""
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".pytest_cache" not in path.parts
    }
