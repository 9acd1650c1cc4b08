"""fastapi-testbed: an isolated test database, clients and fakes for FastAPI + SQLAlchemy apps.

The pytest plugin (``fastapi_testbed.plugin``) is what most users need: it registers itself and
gives tests ``client``, ``sync_client``, ``db_session`` and ``testbed``. The machinery under the
fixtures is importable from here, and none of it imports pytest, for scripts and other runners::

    with TestDatabase(url, engine=engine, loop=loop, is_async=True, metadata=Base.metadata):
        with TransactionIsolation(engine, loop=loop, is_async=True, sessionmakers=[Maker]) as iso:
            ...
"""

from __future__ import annotations

from fastapi_testbed.bridge import LoopThread as LoopThread
from fastapi_testbed.client import LifespanTransport as LifespanTransport
from fastapi_testbed.config import Settings as Settings
from fastapi_testbed.database import TestDatabase as TestDatabase
from fastapi_testbed.engines import create_test_engine as create_test_engine
from fastapi_testbed.errors import TestbedError as TestbedError
from fastapi_testbed.isolation import TransactionIsolation as TransactionIsolation
from fastapi_testbed.isolation import TruncateIsolation as TruncateIsolation
from fastapi_testbed.testbed import Testbed as Testbed

__all__ = [
    "LifespanTransport",
    "LoopThread",
    "Settings",
    "TestDatabase",
    "Testbed",
    "TestbedError",
    "TransactionIsolation",
    "TruncateIsolation",
    "create_test_engine",
]
