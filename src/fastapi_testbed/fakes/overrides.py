"""FastAPI dependency overrides that undo themselves, and `login_as` on top of them.

with DependencyOverrides(app) as overrides:
    overrides.override(get_mailer, FakeMailer())   # a value is wrapped: lambda: value
    overrides.login_as(ada, dependency=get_current_user)
    ...                                            # requests see both overrides
# app.dependency_overrides is back to exactly what it was, earlier overrides included
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["LOGIN_AS_NEEDS_DEPENDENCY", "NOT_A_FASTAPI_APP", "DependencyOverrides", "Override"]

LOGIN_AS_NEEDS_DEPENDENCY = (
    "login_as() needs the app's current-user dependency. Name it in pyproject.toml:\n"
    '    [tool.testbed]\n    current_user = "myapp.deps:get_current_user"\n'
    "or pass it: login_as(user, dependency=get_current_user)."
)
NOT_A_FASTAPI_APP = (
    "override() needs a FastAPI app (one with .dependency_overrides); the app is {app!r}. "
    "If [tool.testbed] app points at middleware wrapping FastAPI, point it at the FastAPI app."
)


class Override:
    """One override; `restore()` (or leaving its `with` block) undoes it early."""

    def __init__(self, overrides: dict[Any, Any], dependency: Any, replacement: Any) -> None:
        self._overrides = overrides
        self.dependency = dependency
        self.replacement = replacement
        self._had, self._previous = dependency in overrides, overrides.get(dependency)
        self.active = True
        overrides[dependency] = replacement

    def restore(self) -> None:
        if not self.active:
            return
        self.active = False
        if self._had:
            self._overrides[self.dependency] = self._previous
        else:
            self._overrides.pop(self.dependency, None)

    def __enter__(self) -> Override:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()


def _as_dependency(replacement: Any) -> Callable[..., Any]:
    if callable(replacement):
        return replacement  # type: ignore[no-any-return]

    def provide() -> Any:
        return replacement

    return provide


class DependencyOverrides:
    """Overrides on `app.dependency_overrides`, all restored, in reverse order, by `restore()`."""

    def __init__(self, app: Any, current_user: Any = None) -> None:
        if not isinstance(getattr(app, "dependency_overrides", None), dict):
            raise TypeError(NOT_A_FASTAPI_APP.format(app=app))
        self.app = app
        self.current_user = current_user
        self._stack: list[Override] = []

    def override(self, dependency: Any, replacement: Any) -> Override:
        """Make the app use `replacement` (a callable, or a value) wherever it uses `dependency`."""
        handle = Override(self.app.dependency_overrides, dependency, _as_dependency(replacement))
        self._stack.append(handle)
        return handle

    def login_as(self, user: Any, *, dependency: Any = None) -> Override:
        """Make the current-user dependency return `user`: no token, no password hashing."""
        dependency = dependency or self.current_user
        if dependency is None:
            raise LookupError(LOGIN_AS_NEEDS_DEPENDENCY)

        def current_user() -> Any:
            return user

        return self.override(dependency, current_user)

    def restore(self) -> None:
        while self._stack:
            self._stack.pop().restore()

    def __enter__(self) -> DependencyOverrides:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()
