"""Bad input stops the whole run with one message and exit code 4, as a pytest.UsageError does.

A wrong setting, an app that cannot be imported or a test database that cannot be built is
not one test's failure: every test after it would fail the same way, each with its traceback.
So the plugin imports the app when the session starts and builds the main test database before
the first test that needs it, outside the test; an error there, or one raised while a test
database was being built inside a test, ends the run:

- without pytest-xdist, as a ``pytest.UsageError``: pytest prints ``ERROR: <message>`` and
  exits with code 4 (``pytest.ExitCode.USAGE_ERROR``);
- under pytest-xdist, the worker stops (``session.shouldstop``) and hands the message to the
  controller, which prints it once (the first worker's: each worker builds its own database
  from the same settings) and exits with code 4.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

import pytest

from fastapi_testbed.errors import RUN_STOPPED, SETUP_FAILED, TestbedError
from fastapi_testbed.importing import location

__all__ = [
    "EXIT_CODE",
    "failure_of",
    "is_controller",
    "is_worker",
    "stop",
    "stopping_error",
]

EXIT_CODE = pytest.ExitCode.USAGE_ERROR
FAILURE_KEY = pytest.StashKey[str]()  # the message that stops this process's run
MESSAGES_KEY = pytest.StashKey[list[str]]()  # the controller's: the workers' messages
WORKER_OUTPUT = "fastapi_testbed_failure"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The xdist process that only hands out tests (it imports no app, builds no database)."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None))


def failure_of(action: Callable[[], Any], settings: Any) -> str | None:
    """Run ``action``; the message of the error it raised, or None."""
    try:
        action()
    except TestbedError as exc:
        return str(exc)
    except Exception as exc:  # not a case the plugin names: what, where, and the settings
        lines = str(exc).strip().splitlines()
        return SETUP_FAILED.format(
            kind=type(exc).__name__,
            error=lines[0] if lines else "",
            where=location(exc, settings.root),
            path=settings.pyproject,
        )
    return None


def _building_codes() -> set[CodeType]:
    """The functions an error must have come through to be about the setup, not the test."""
    from fastapi_testbed.binding import EngineBinder
    from fastapi_testbed.database import TestDatabase
    from fastapi_testbed.testbed import Runtime

    return {
        TestDatabase.ensure.__code__,  # creating a test database, building its schema
        EngineBinder.create_engine.__code__,  # mapping an engine's URL to its test database
        Runtime.load.__code__,  # importing what [tool.testbed] names
    }


def stopping_error(exc: BaseException) -> TestbedError | None:
    """The TestbedError that stops the run, if ``exc`` (or what it wraps) is one.

    The app may have wrapped it (SQLAlchemy, Starlette's middleware, an ExceptionGroup), so
    causes, contexts and groups are searched.
    """
    codes = _building_codes()
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, TestbedError):
            tb = error.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code in codes:
                    return error
                tb = tb.tb_next
        pending += [error.__cause__, error.__context__]
        if isinstance(error, BaseExceptionGroup):
            pending += list(error.exceptions)
    return None


def stop(session: pytest.Session, message: str, *, collected: bool = True) -> None:
    """End the run with ``message`` (see the module docstring); returns only in a worker."""
    config = session.config
    config.stash[FAILURE_KEY] = message
    if not is_worker(config):
        raise pytest.UsageError(message)
    config.workeroutput[WORKER_OUTPUT] = message  # type: ignore[attr-defined]
    if collected:  # before collection ends, pytest would take shouldstop for an interrupt
        session.shouldstop = RUN_STOPPED


def failure(config: pytest.Config) -> str | None:
    return config.stash.get(FAILURE_KEY, None)


def worker_stopped(node: Any) -> None:
    """Controller: remember the message a worker stopped with."""
    message = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if message:
        node.config.stash.setdefault(MESSAGES_KEY, []).append(message)


def finish(session: pytest.Session) -> None:
    """Controller: print the first worker's message (the others met the same setup) and exit 4."""
    messages = session.config.stash.get(MESSAGES_KEY, [])
    if messages:
        sys.stderr.write(f"ERROR: {messages[0]}\n")
        session.exitstatus = EXIT_CODE
