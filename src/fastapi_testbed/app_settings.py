"""Change fields of the app's settings object for one test, and put them back.

Apps keep their settings in one object (a pydantic-settings ``BaseSettings``, a dataclass)
returned by an ``lru_cache``d ``get_settings()``. :class:`SettingsOverride` clears that cache,
sets fields on the object the app gets from it now and on every module-level reference to
the settings that the project's modules hold, then restores them and clears the cache again::

    with SettingsOverride(get_settings, root=Path(".")) as settings:
        settings.beta = True          # get_settings().beta is True inside the block
    get_settings().beta               # back to what the environment says

Values the app copied at import time (``DEBUG = get_settings().debug``, middleware built with
``allowed_hosts=settings.hosts``) cannot change this way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from fastapi_testbed.errors import UNKNOWN_SETTING, TestbedError

__all__ = ["SettingsOverride"]

_STATE = "_testbed_state"


class _State:
    def __init__(self, target: Any, root: Path | None, source: str) -> None:
        self.function: Callable[[], Any] | None = target if _is_function(target) else None
        self.target = target
        self.root = root
        self.source = source
        self.objects: list[Any] = []
        self.saved: list[tuple[Any, str, Any]] = []  # (object, field, original value)


def _is_function(target: Any) -> bool:
    return callable(target) and not _fields(target) and not isinstance(target, type)


def _fields(obj: Any) -> list[str]:
    model_fields = getattr(type(obj), "model_fields", None)  # pydantic v2
    if isinstance(model_fields, dict):
        return list(model_fields)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [field.name for field in dataclasses.fields(obj)]
    return []


def _frozen(obj: Any) -> bool:
    config = getattr(type(obj), "model_config", None)
    if isinstance(config, dict) and config.get("frozen"):
        return True
    params = getattr(type(obj), "__dataclass_params__", None)
    return bool(params is not None and params.frozen)


def _set(obj: Any, name: str, value: Any) -> None:
    if _frozen(obj):
        object.__setattr__(obj, name, value)  # a frozen model: the test may change it anyway
    else:
        setattr(obj, name, value)


def _clear(function: Callable[[], Any] | None) -> None:
    cache_clear = getattr(function, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


class SettingsOverride:
    """The app's settings for one block: set attributes on it; see the module docstring."""

    def __init__(self, target: Any, *, root: Path | None = None, source: str = "") -> None:
        object.__setattr__(self, _STATE, _State(target, root, source))

    @property
    def object(self) -> Any:
        """The settings object the app gets now."""
        state: _State = object.__getattribute__(self, _STATE)
        return state.objects[0] if state.objects else state.target

    def __enter__(self) -> SettingsOverride:
        state: _State = object.__getattribute__(self, _STATE)
        current = state.target
        if state.function is not None:
            _clear(state.function)  # built afresh from the environment the test prepared
            current = state.function()
        objects = [current]
        if state.root is not None:  # `settings = get_settings()` at import: the same class
            from fastapi_testbed.testbed import _project_modules

            for module in _project_modules(state.root):
                for value in list(vars(module).values()):
                    if type(value) is type(current) and all(value is not o for o in objects):
                        objects.append(value)
        state.objects = objects
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        state: _State = object.__getattribute__(self, _STATE)
        while state.saved:
            obj, name, value = state.saved.pop()
            _set(obj, name, value)
        state.objects = []
        _clear(state.function)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.object, name)

    def __setattr__(self, name: str, value: Any) -> None:
        state: _State = object.__getattribute__(self, _STATE)
        current = self.object
        fields = _fields(current)
        if (fields and name not in fields) or (not fields and not hasattr(current, name)):
            raise TestbedError(
                UNKNOWN_SETTING.format(
                    kind=type(current).__name__,
                    path=state.source,
                    name=name,
                    fields=", ".join(fields) or "(none found)",
                )
            )
        for obj in state.objects or [current]:
            state.saved.append((obj, name, getattr(obj, name)))
            _set(obj, name, value)

    def __repr__(self) -> str:
        return f"<SettingsOverride of {self.object!r}>"
