"""The command line's messages, as constants (like errors.py for the plugin), and its one error."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A failure of `fastapi-testbed init` or `doctor`: printed as one message, exit code 1."""


NOT_A_FOLDER = "{path} is not a folder: run fastapi-testbed in your project's folder, or name it."
NO_PYTHON = (
    "No Python modules found in {root} (virtualenvs, tests and migrations are skipped): "
    "run `fastapi-testbed init` in the folder that holds your app's package and pyproject.toml."
)
NO_APP = (
    "No FastAPI app found in {root}: looked in {modules} module(s) for a module-level "
    "`app = FastAPI(...)` and for functions returning FastAPI that take no arguments. "
    'Name it yourself in pyproject.toml: [tool.testbed] app = "package.module:app" '
    '(or "package.module:create_app()" for a factory).'
)
BAD_PYPROJECT = (
    "{path} is not valid TOML ({error}): fix it first; fastapi-testbed init only adds "
    "a [tool.testbed] table to a file it can read."
)
NOT_WRITTEN = (
    "pyproject.toml was not changed (answer y, or run `fastapi-testbed init --yes` to write "
    "without asking)."
)
NO_ANSWER = (
    "{question}: no answer (standard input is closed). Run `fastapi-testbed init --yes` to take "
    "the most likely choice, or set [tool.testbed] {key} yourself."
)
SUITE_FAILED = (
    "The suite failed (pytest exited with {code}) with [tool.testbed] written to {pyproject}. "
    "The output above says which test or setting; `fastapi-testbed doctor` lists the "
    "patterns in your tests and conftest.py that the plugin replaces."
)
SUITE_EMPTY = (
    "pytest collected no tests in {root} (exit code 5): check testpaths in your pytest "
    "configuration."
)
DOCTOR_FOUND = (
    "{count} problem(s) in {root} ({fixable} fixable with `fastapi-testbed doctor "
    "--fix`; the others are listed above with what replaces them)."
)
NO_TABLE = (
    "no [tool.testbed] table in {path}: run `fastapi-testbed init` to write one "
    "(the plugin stays dormant without it)."
)
