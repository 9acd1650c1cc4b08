"""The engines the plugin itself uses: one per session for the test database, one for admin work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fastapi_testbed.bridge import LoopThread, bridged_connect, driver_connect
from fastapi_testbed.watchdog import guard_aiosqlite

__all__ = ["AnyEngine", "create_test_engine", "dispose", "run_sync"]

AnyEngine = Engine | AsyncEngine
T = TypeVar("T")


def _fix_sqlite_transactions(engine: Engine) -> None:
    # pysqlite and aiosqlite emit BEGIN lazily and break SAVEPOINT; take BEGIN over (SQLAlchemy's
    # documented recipe), so nested transactions really nest on every Python version.

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def create_test_engine(url: URL, *, is_async: bool, loop: LoopThread, **kwargs: Any) -> AnyEngine:
    """The plugin's own engine for ``url``; async driver connections live on ``loop``."""
    from fastapi_testbed.binding import INTERNAL, current_binder

    backend = url.get_backend_name()
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args["check_same_thread"] = False
    elif "poolclass" not in kwargs:
        # Never wait for a pooled connection: a wait would tie the pool's queue to one event loop.
        options.update(pool_size=5, max_overflow=-1, pool_pre_ping=False)
    engine: AnyEngine
    if is_async and current_binder() is not None:
        # create_async_engine calls the wrapped create_engine: mark the plugin's own engine
        kwargs[INTERNAL] = True
    if is_async and backend != "sqlite":
        connect = driver_connect(url.get_driver_name())
        connect_args["async_creator_fn"] = bridged_connect(loop, connect)
        engine = create_async_engine(url, connect_args=connect_args, **options, **kwargs)
    elif is_async:
        engine = create_async_engine(url, connect_args=connect_args, **options, **kwargs)
        _fix_sqlite_transactions(engine.sync_engine)
        guard_aiosqlite(engine.sync_engine)
    else:
        engine = create_engine(url, connect_args=connect_args, **options, **kwargs)
        if backend == "sqlite":
            _fix_sqlite_transactions(engine)
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    sync_engine.dialect.__dict__[INTERNAL] = True
    return engine


def run_sync(engine: AnyEngine, loop: LoopThread, work: Callable[[Connection], T]) -> T:
    """Run ``work(connection)`` in a transaction on ``engine``, sync or async alike."""
    if isinstance(engine, AsyncEngine):

        async def main() -> T:
            async with engine.begin() as connection:
                return await connection.run_sync(work)

        return loop.run(main())
    with engine.begin() as connection:
        return work(connection)


def dispose(engine: AnyEngine, loop: LoopThread) -> None:
    """Close the engine's pooled connections (on ``loop`` for an async engine)."""
    if isinstance(engine, AsyncEngine):
        loop.run(engine.dispose())
    else:
        engine.dispose()
