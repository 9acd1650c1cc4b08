"""Import "package.module:attribute" paths lazily; read a module's source without importing it."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path
from typing import Any

from fastapi_testbed.errors import (
    ATTRIBUTE_MISSING,
    BAD_PATH_FORMAT,
    IMPORT_FAILED,
    TestbedError,
)

__all__ = ["import_string", "module_source", "split_path"]


def split_path(value: str, key: str = "path") -> tuple[str, str, bool]:
    """Split "pkg.mod:attr" or "pkg.mod:factory()" into (module, attribute, call)."""
    module, sep, attribute = value.partition(":")
    call = attribute.endswith("()")
    if call:
        attribute = attribute[:-2]
    if not sep or not module or not attribute:
        raise TestbedError(BAD_PATH_FORMAT.format(key=key, value=value))
    return module, attribute, call


def import_string(
    value: str, *, key: str = "path", where: Path | None = None, root: Path | None = None
) -> Any:
    """Import the object named by "pkg.mod:attr" (dotted attributes allowed; "()" calls it)."""
    module_name, attribute, call = split_path(value, key)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if (
            isinstance(exc, ModuleNotFoundError)
            and exc.name
            and not module_name.startswith(exc.name)
        ):
            raise  # the module exists but one of its own imports is missing: show the traceback
        raise TestbedError(
            IMPORT_FAILED.format(
                key=key, value=value, module=module_name, error=exc, path=where, root=root
            )
        ) from exc
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise TestbedError(
                ATTRIBUTE_MISSING.format(
                    key=key, value=value, module=module_name, attribute=attribute, path=where
                )
            ) from exc
    return obj() if call else obj


def module_source(module_name: str) -> str | None:
    """Return a module's source text without executing it or its packages, or None."""
    search: list[str] | None = list(sys.path)
    spec = None
    parts = module_name.split(".")
    for index in range(len(parts)):
        name = ".".join(parts[: index + 1])
        spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        return Path(spec.origin).read_text(encoding="utf-8")
    except OSError:
        return None
