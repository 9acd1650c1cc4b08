"""Helpers for the fakes' tests: the core's small app, plus the routes and modules a fake needs."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

from tests.conftest import Project

# Put at the top of every generated test module: anyio on asyncio, as the examples do.
PREAMBLE = """
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"

"""


def build(
    project: Project,
    tests: str,
    *,
    routes: str = "",
    modules: dict[str, str] | None = None,
    extra: str = "",
    flavour: str = "async",
    conftest: str = "",
) -> Project:
    """Write the core's app, append `routes` to tbapp/main.py and add `modules` to tbapp/."""
    project.write(
        PREAMBLE + textwrap.dedent(tests),
        flavour=flavour,
        extra=textwrap.dedent(extra),
        conftest=conftest,
    )
    package = project.pytester.path / "tbapp"
    for name, source in (modules or {}).items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    if routes:
        main = package / "main.py"
        main.write_text(main.read_text() + "\n" + textwrap.dedent(routes))
    return project


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make packages unimportable for an in-process pytester run: `without("respx")`."""

    def block(*names: str) -> None:
        for name in names:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            monkeypatch.setitem(sys.modules, name, None)
        # modules of ours that imported them at import time must be imported afresh
        for ours in ("fastapi_testbed.fakes.http",):
            monkeypatch.delitem(sys.modules, ours, raising=False)

    return block


def assert_in_output(result: pytest.RunResult, message: str) -> None:
    """The verbatim message (each of its lines, in order) appears in the run's output."""
    result.stdout.re_match_lines([f".*{re.escape(line)}.*" for line in message.splitlines()])
