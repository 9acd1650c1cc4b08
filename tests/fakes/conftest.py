"""Helpers for the fakes' tests: the core's small app, plus the routes and modules a fake needs."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from types import ModuleType

import pytest

from fastapi_testbed.fakes import extras
from tests.conftest import Project
from tests.conftest import build as build_app

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
    models: str = "",
    modules: dict[str, str] | None = None,
    extra: str = "",
    flavour: str = "async",
    conftest: str = "",
) -> Project:
    """The core's build (tests/conftest.py), with anyio on asyncio at the top of the tests."""
    return build_app(
        project,
        PREAMBLE + textwrap.dedent(tests),
        routes=routes,
        models=models,
        modules=modules,
        extra=extra,
        flavour=flavour,
        conftest=conftest,
    )


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Pretend packages are not installed, for the fakes: `without("respx")`."""

    def block(*names: str) -> None:
        real = extras._import_module

        def import_module(name: str) -> ModuleType:
            if name.split(".", 1)[0] in names:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return real(name)

        monkeypatch.setattr(extras, "_import_module", import_module)
        # http.py checks its extra at import time: import it afresh
        monkeypatch.delitem(sys.modules, "fastapi_testbed.fakes.http", raising=False)

    return block


def assert_in_output(result: pytest.RunResult, message: str) -> None:
    """The verbatim message (each of its lines, in order) appears in the run's output."""
    result.stdout.re_match_lines([f".*{re.escape(line)}.*" for line in message.splitlines()])
