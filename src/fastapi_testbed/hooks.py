"""Hooks other plugins (the fakes, a user's own) implement to extend fastapi-testbed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi_testbed.config import Settings
    from fastapi_testbed.environment import Environment

hookspec = pytest.hookspec


@hookspec
def pytest_testbed_environment(
    config: pytest.Config, settings: Settings, environment: Environment
) -> None:
    """Called once the test database URL is in os.environ, before any conftest or app import.

    Export more variables with ``environment.set(name, value)``: they are restored when the
    session ends.
    """
