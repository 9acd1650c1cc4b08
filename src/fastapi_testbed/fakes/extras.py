"""Optional dependencies: each fake names the extra that brings what it needs."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]

MISSING_EXTRA = (
    "{feature} needs the {package!r} package, which is not installed.\n"
    "Install the extra that brings it: pip install 'fastapi-testbed[{extra}]' "
    "(or 'fastapi-testbed[all]')."
)


_import_module = importlib.import_module  # one seam, so tests can pretend a package is missing


class MissingExtraError(ImportError):
    """A fake was used without the optional dependency its extra brings."""


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise `MissingExtraError` naming the extra to install."""
    try:
        return _import_module(module)
    except ImportError as error:
        package = module.split(".", 1)[0]
        raise MissingExtraError(
            MISSING_EXTRA.format(feature=feature, package=package, extra=extra)
        ) from error
