"""Import "package.module:attribute" paths lazily; read a module's source without importing it."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from fastapi_testbed.errors import (
    ATTRIBUTE_MISSING,
    BAD_PATH_FORMAT,
    ENV_MISSING,
    IMPORT_FAILED,
    IMPORT_RAISED,
    TestbedError,
)

__all__ = ["import_string", "location", "module_source", "split_path"]


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
    """Import the object named by "pkg.mod:attr" (dotted attributes allowed; "()" calls it).

    Whatever the import or the call raises becomes one TestbedError that names the setting,
    the exception and the line of the user's code that raised it.
    """
    module_name, attribute, call = split_path(value, key)
    try:
        obj: Any = importlib.import_module(module_name)
    except TestbedError:
        raise  # the plugin's own message (an engine the app made at import, say)
    except ImportError as exc:
        if not (
            isinstance(exc, ModuleNotFoundError)
            and exc.name
            and exc.name != module_name
            and not module_name.startswith(exc.name + ".")
        ):
            message = IMPORT_FAILED.format(
                key=key, value=value, module=module_name, error=exc, path=where, root=root
            )
            raise TestbedError(message) from None
        # the module exists but one of its own imports is missing
        raise _raised(exc, key, value, f"importing {module_name}", where, root) from None
    except Exception as exc:
        raise _raised(exc, key, value, f"importing {module_name}", where, root) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TestbedError(
                ATTRIBUTE_MISSING.format(
                    key=key, value=value, module=module_name, attribute=attribute, path=where
                )
            ) from None
    if not call:
        return obj
    try:
        return obj()
    except TestbedError:
        raise
    except Exception as exc:
        raise _raised(exc, key, value, f"calling {attribute}()", where, root) from None


def _raised(
    exc: BaseException, key: str, value: str, action: str, where: Path | None, root: Path | None
) -> TestbedError:
    """One message for an exception the user's code raised while the plugin imported it."""
    name = _missing_variable(exc)
    if name is not None:
        return TestbedError(
            ENV_MISSING.format(
                key=key, value=value, name=name, where=location(exc, root), path=where
            )
        )
    lines = str(exc).strip().splitlines()
    return TestbedError(
        IMPORT_RAISED.format(
            key=key,
            value=value,
            action=action,
            kind=type(exc).__name__,
            error=lines[0] if lines else "",
            where=location(exc, root),
            path=where,
        )
    )


def _missing_variable(exc: BaseException) -> str | None:
    """The variable of ``os.environ["NAME"]`` when that lookup raised ``exc``, else None."""
    if not isinstance(exc, KeyError) or not exc.args or not isinstance(exc.args[0], str):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    if last and last.filename in {"<frozen os>", os.__file__} and last.name == "__getitem__":
        return exc.args[0]
    return None


def location(exc: BaseException, root: Path | None = None) -> str:
    """Where ``exc`` was raised, as "file:line: code": the last frame in the user's project."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    own = Path(__file__).resolve().parent
    chosen = frames[-1]
    for frame in reversed(frames):
        path = Path(frame.filename)
        if "site-packages" in path.parts or not path.is_absolute() or own in path.parents:
            continue
        if root is None or root.resolve() in path.resolve().parents:
            chosen = frame
            break
    filename = chosen.filename
    if root is not None:
        with contextlib.suppress(ValueError):
            filename = str(Path(filename).resolve().relative_to(root.resolve()))
    code = f": {chosen.line.strip()}" if chosen.line else ""
    return f"{filename}:{chosen.lineno}{code}"


def module_source(module_name: str) -> str | None:
    """Return a module's source text without executing it or its packages, or None.

    Read from the folders on sys.path as the import system would find them: regular packages,
    and namespace packages (folders without ``__init__.py``) too.
    """
    folders = [Path(entry or ".") for entry in sys.path]
    *packages, name = module_name.split(".")
    for package in packages:
        found = [folder / package for folder in folders if (folder / package).is_dir()]
        regular = [folder for folder in found if (folder / "__init__.py").is_file()]
        folders = regular[:1] or found  # a regular package wins; else every namespace portion
        if not folders:
            return None
    for folder in folders:
        for candidate in (folder / name / "__init__.py", folder / f"{name}.py"):
            if candidate.is_file():
                try:
                    return candidate.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    return None
    return None
