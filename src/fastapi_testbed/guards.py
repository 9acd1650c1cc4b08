"""Raw driver connections: the app may open one only to a test database.

An app that calls its driver itself (``psycopg.connect(...)``, ``asyncpg.connect(...)``) goes
around SQLAlchemy, so the engine binding cannot point it anywhere. Each server driver's
``connect`` is wrapped (once it is imported) to refuse a database not named ``test_*`` before a
byte is sent. Server-level connections (no database) and the maintenance databases the plugin
itself uses to create and drop test databases pass.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi_testbed.errors import RAW_CONNECTION, TestbedError

__all__ = ["DriverGuard"]

MAINTENANCE = frozenset({"postgres", "template1"})


def _psycopg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    from psycopg.conninfo import conninfo_to_dict

    conninfo = args[0] if args else kwargs.get("conninfo", "")
    params = {k: v for k, v in kwargs.items() if k not in {"conninfo", "autocommit"}}
    try:
        return str(conninfo_to_dict(conninfo, **params).get("dbname") or "")
    except Exception:  # the driver reports a bad conninfo itself
        return None


def _asyncpg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    if kwargs.get("database"):
        return str(kwargs["database"])
    dsn = args[0] if args else kwargs.get("dsn")
    return urlsplit(dsn).path.lstrip("/") if isinstance(dsn, str) else None


def _mysql(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    return str(kwargs.get("database") or kwargs.get("db") or "")


def _allowed(name: str | None) -> bool:
    return not name or name.startswith("test_") or name in MAINTENANCE


class DriverGuard:
    """Wraps the ``connect`` of psycopg, asyncpg, pymysql, aiomysql and asyncmy (see above)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._done: set[str] = set()

    def _wrap(self, owner: Any, name: str, database: Callable[..., str | None]) -> None:
        original = getattr(owner, name)
        is_class = isinstance(owner, type)

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            target = database(args, kwargs)
            if not _allowed(target):
                raise TestbedError(RAW_CONNECTION.format(name=target, driver=owner.__name__))

        if is_class:  # psycopg.AsyncConnection.connect, a classmethod returning a coroutine

            def connect_method(cls: Any, *args: Any, **kwargs: Any) -> Any:
                check(args, kwargs)
                return original(*args, **kwargs)

            replacement: Any = classmethod(connect_method)
            self._saved.append((owner, name, owner.__dict__[name]))
        else:

            def connect(*args: Any, **kwargs: Any) -> Any:
                check(args, kwargs)
                return original(*args, **kwargs)

            replacement = connect
            self._saved.append((owner, name, original))
        setattr(owner, name, replacement)

    def install(self) -> None:
        """Wrap the drivers imported so far (cheap to call again: each is wrapped once)."""
        for module_name, targets in (
            ("psycopg", (("", "connect", _psycopg), ("AsyncConnection", "connect", _psycopg))),
            ("asyncpg", (("", "connect", _asyncpg),)),
            ("pymysql", (("", "connect", _mysql),)),
            ("aiomysql", (("", "connect", _mysql),)),
            ("asyncmy", (("", "connect", _mysql),)),
        ):
            module = sys.modules.get(module_name)
            if module is None or module_name in self._done or not hasattr(module, "connect"):
                continue
            for owner_name, attribute, database in targets:
                owner = getattr(module, owner_name) if owner_name else module
                self._wrap(owner, attribute, database)
            self._done.add(module_name)

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)
        self._done.clear()
