"""fastapi-testbed: an isolated test database, clients and fakes for FastAPI + SQLAlchemy apps.

The pytest plugin (``fastapi_testbed.plugin``) is what most users need: it registers itself and
gives tests ``client``, ``sync_client``, ``db_session`` and ``testbed``. The machinery under the
fixtures is importable from here, and none of it imports pytest, for scripts and other runners::

    with EngineBinder(urls, database_factory=make_database) as binder:
        engine = create_engine("postgresql://db/shop")  # now points at test_shop
        with binder.scope():  # one test: every connection inside one rolled-back transaction
            ...

Inside a test, ``assert_database_has(User, email=...)``, ``assert_database_missing(...)`` and
``assert_database_count(Note, 2)`` check the rows of the test database.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from fastapi_testbed.asserts import assert_database_count as assert_database_count
    from fastapi_testbed.asserts import assert_database_has as assert_database_has
    from fastapi_testbed.asserts import assert_database_missing as assert_database_missing
    from fastapi_testbed.binding import EngineBinder as EngineBinder
    from fastapi_testbed.bridge import LoopThread as LoopThread
    from fastapi_testbed.client import LifespanTransport as LifespanTransport
    from fastapi_testbed.config import Settings as Settings
    from fastapi_testbed.database import TestDatabase as TestDatabase
    from fastapi_testbed.engines import create_test_engine as create_test_engine
    from fastapi_testbed.errors import TestbedError as TestbedError
    from fastapi_testbed.testbed import Testbed as Testbed
    from fastapi_testbed.urls import TestUrls as TestUrls

__all__ = [
    "EngineBinder",
    "LifespanTransport",
    "LoopThread",
    "Settings",
    "TestDatabase",
    "TestUrls",
    "Testbed",
    "TestbedError",
    "assert_database_count",
    "assert_database_has",
    "assert_database_missing",
    "create_test_engine",
]

# Imported on first use: loading the pytest plugin (which imports this package first) costs
# no SQLAlchemy, httpx or asgi-lifespan import until something needs them.
_HOMES = {
    "EngineBinder": "binding",
    "LifespanTransport": "client",
    "LoopThread": "bridge",
    "Settings": "config",
    "TestDatabase": "database",
    "TestUrls": "urls",
    "Testbed": "testbed",
    "TestbedError": "errors",
    "assert_database_count": "asserts",
    "assert_database_has": "asserts",
    "assert_database_missing": "asserts",
    "create_test_engine": "engines",
}


def __getattr__(name: str) -> typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
