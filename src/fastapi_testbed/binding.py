"""Every engine the app creates is a test engine: bind where every path to the database meets.

:class:`EngineBinder` wraps SQLAlchemy's ``create_engine`` (which ``create_async_engine``,
``engine_from_config``, ``async_engine_from_config`` and SQLModel's ``create_engine`` all call)
for as long as it is installed. Each engine created meanwhile, at import time, in a lifespan, an
``lru_cache``d factory or Alembic's env.py, points at the test database that corresponds to its
URL (see :class:`~fastapi_testbed.urls.TestUrls`), and its connections are routed through
:meth:`Group.checkout`: the test's one connection inside a test, the engine's own pool outside.
An engine made before the binder was installed may not reach a database that is not a test
database. Nothing here imports pytest::

    with EngineBinder(urls, schemas=...) as binder:
        engine = create_engine("postgresql://db/shop")   # -> .../test_shop
        with binder.scope():                               # a test
            ...
"""

from __future__ import annotations

import re
import sys
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy
import sqlalchemy.engine
import sqlalchemy.engine.create
from sqlalchemy import event
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.pool import StaticPool

from fastapi_testbed.bridge import LoopThread, bridged_connect, driver_connect, hop_for_dialect
from fastapi_testbed.errors import DDL_IN_TEST, FOREIGN_DATABASE, NESTED_BUILD, TestbedError
from fastapi_testbed.guards import DriverGuard
from fastapi_testbed.scoped import Change, Images
from fastapi_testbed.sharing import (
    WROTE_KEY,
    SharedConnection,
    after_statement,
    before_statement,
    end_plugin_transaction,
    execute,
    install_dialect_overrides,
    shared_of,
    statement_failed,
)
from fastapi_testbed.urls import TEST_PREFIX, app_database_name, identity, render
from fastapi_testbed.watchdog import dead, guard_aiosqlite

__all__ = ["BoundEngine", "EngineBinder", "Group", "Level", "Scope", "current_binder"]

INTERNAL = "_testbed_internal"  # create_engine(..., _testbed_internal=True): the plugin's own
MYSQL_CREATE = re.compile(r"^\s*CREATE\s+(?:TABLE|(?:UNIQUE\s+)?INDEX)\b", re.IGNORECASE)
MYSQL_DDL = re.compile(r"^\s*(?:CREATE|ALTER|DROP|RENAME|TRUNCATE)\s+(?!TEMPORARY)", re.IGNORECASE)
_ORIGINAL_CREATE_ENGINE = sqlalchemy.engine.create.create_engine
_ORIGINAL_RAW_CONNECTION = Engine.raw_connection
_SKIPPED_MODULES = ("sqlalchemy", "sqlmodel", "fastapi_testbed", "functools", "contextlib")
_ACTIVE: EngineBinder | None = None


def current_binder() -> EngineBinder | None:
    """The binder installed now, if any."""
    return _ACTIVE


@dataclass
class BoundEngine:
    """An engine the app created, and where it points now."""

    app_url: URL
    test_url: URL
    origin: str
    is_async: bool
    group: Group
    ref: weakref.ref[Engine] = field(repr=False)

    @property
    def engine(self) -> Engine | None:
        return self.ref()


class Group:
    """The engines that share a test database and a driver: they share a test's connection."""

    def __init__(self, binder: EngineBinder, url: URL, *, is_async: bool, dialect: Dialect):
        self.binder = binder
        self.url = url
        self.is_async = is_async
        self.dialect = dialect
        self.database = binder.database_for(url, is_async=is_async)
        # between tests: (pooled connection, the pool it came from, the engine of that pool)
        self.idle: tuple[Any, Any, Engine] | None = None

    def take_idle(self, engine: Engine) -> Any:
        """The connection the last test used, if it came from ``engine``'s pool (no checkout)."""
        idle, self.idle = self.idle, None
        if idle is None:
            return None
        owner, pool, _ = idle
        if (
            pool is engine.pool
            and owner.dbapi_connection is not None
            and not dead(owner.dbapi_connection)
        ):
            return owner
        self.release(idle)
        return None

    def keep_idle(self, owner: Any, pool: Any, engine: Engine) -> None:
        """Keep a test's connection, its transaction rolled back, for the next test."""
        if self.idle is not None:
            self.release(self.idle)
        self.idle = (owner, pool, engine)

    def release_idle(self) -> None:
        idle, self.idle = self.idle, None
        if idle is not None:
            self.release(idle)

    def release(self, idle: tuple[Any, Any, Engine]) -> None:
        """Give a kept connection back to its pool; close it if its engine was disposed."""
        from sqlalchemy.util.concurrency import in_greenlet

        owner, pool, engine = idle

        def give_back() -> None:
            if dead(owner.dbapi_connection):
                owner.invalidate()  # nothing to roll back: its SQLite connection is closed
                return
            if engine.pool is not pool:
                # the app disposed the engine while the connection waited for the next test (a
                # lifespan's shutdown): its old pool is gone, where it would stay open
                owner.invalidate()
                return
            try:
                end_plugin_transaction(owner)
            except Exception:
                owner.invalidate()  # its state is unknown: the pool must not hand it out
                return
            owner.close()

        if self.is_async and not in_greenlet():  # the sync facade needs a greenlet on the loop
            self.binder.run_in_greenlet(give_back)
        else:
            give_back()

    def checkout(self, engine: Engine) -> Any:
        """The DBAPI connection ``engine`` hands out now (see the module docstring)."""
        refusal = getattr(self.binder.current_scope, "refusal", None)
        if refusal is not None:  # db_access = "explicit" and the test did not ask
            raise TestbedError(refusal.format(url=render(self.url)))
        database = self.database
        if not database.ready and not database.building:
            building = next((d for d in self.binder.databases.values() if d.building), None)
            if building is not None:  # Alembic's env.py reached another test database
                raise TestbedError(
                    NESTED_BUILD.format(building=render(building.url), other=render(self.url))
                )
            database.ensure()
        scope = self.binder.current_scope
        if scope is not None and scope.isolation != "transaction" and not database.building:
            self.binder.images.capture(database)  # before a real commit: the rows to put back
        if scope is None or database.building or scope.isolation != "transaction":
            if scope is not None:
                if database not in scope.touched and not database.building:
                    database.mark_dirty()  # real commits: a killed run leaves rows behind
                scope.touched.add(database)
            return _ORIGINAL_RAW_CONNECTION(engine)
        if not engine.dialect.__dict__.get("_testbed_initialized"):
            # a fresh engine learns its server (version, MariaDB or MySQL) from a real connect
            _ORIGINAL_RAW_CONNECTION(engine).close()
            engine.dialect._testbed_initialized = True  # type: ignore[attr-defined]
        return scope.shared(self, engine).checkout()


class Scope:
    """One test: the shared connection of each group it used, rolled back when it ends."""

    def __init__(self, binder: EngineBinder, isolation: str = "transaction") -> None:
        self.binder = binder
        self.isolation = isolation
        self.connections: dict[Group, SharedConnection] = {}
        self.touched: set[Any] = set()  # every database the test used (truncate empties them)
        self.lock = threading.Lock()
        self.closers: list[Callable[[], None]] = []
        # what closes async sessions: run on the loop, in the one crossing that ends the test
        self.greenlet_closers: list[Callable[[], None]] = []
        self.refusal: str | None = None  # why the test may not connect ({url} left to fill)
        self.closed = False
        self._previous: Scope | None = None

    def __enter__(self) -> Scope:
        self.binder.drivers.install()  # drivers the app imported since the last test
        self._previous, self.binder.current_scope = self.binder.current_scope, self
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.binder.current_scope = self._previous
        self.close()

    def shared(self, group: Group, engine: Engine) -> SharedConnection:
        connection = self.connections.get(group)
        if connection is not None:
            return connection
        if group.is_async:
            # Tasks of one thread take turns at each await: a threading lock would deadlock.
            return self._open(group, engine)
        with self.lock:  # the app's worker threads
            return self.connections.get(group) or self._open(group, engine)

    def _open(self, group: Group, engine: Engine) -> SharedConnection:
        owner = group.take_idle(engine) or _ORIGINAL_RAW_CONNECTION(engine)
        engine.dialect._testbed_initialized = True  # type: ignore[attr-defined]
        if group.url.get_backend_name() == "sqlite":
            execute(owner, "BEGIN")
        existing = self.connections.get(group)
        if existing is not None:  # another task opened it while this one waited on the driver
            type(group.dialect).do_rollback(group.dialect, owner)
            group.release((owner, engine.pool, engine))
            return existing
        connection = self.connections[group] = SharedConnection(group, owner, engine)
        self.touched.add(group.database)
        return connection

    def written_tables(self) -> set[str]:
        """Tables the test's connections saw an UPDATE or DELETE on since the last call."""
        tables: set[str] = set()
        for connection in self.connections.values():
            tables |= connection.written
            connection.written.clear()
        return tables

    def close(self) -> None:
        if self.closed:  # a level that ended in its teardown closed it early
            return
        self.closed = True
        for connection in self.connections.values():
            connection.closing = True  # the final rollback ends every savepoint at once
        errors: list[BaseException] = []
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception as exc:  # every closer runs; the first error is raised
                errors.append(exc)
        connections, self.connections = self.connections, {}
        on_loop = self.greenlet_closers
        self.greenlet_closers = []
        for group, connection in connections.items():
            if group.is_async:
                on_loop.append(connection.close)
            else:
                try:
                    connection.close()
                except Exception as exc:
                    errors.append(exc)
        if on_loop:  # the async sessions and connections: one crossing to the loop for all

            def close_all() -> None:
                for close in on_loop:
                    try:
                        close()
                    except Exception as exc:
                        errors.append(exc)

            try:
                self.binder.run_in_greenlet(close_all)
            except Exception as exc:
                errors.append(exc)
        if self.isolation == "truncate":
            for database in self.touched:
                database.empty()
                self.binder.images.of(database).refill()  # the rows of the seed and the levels
        if errors:
            raise errors[0]


class Level(Scope):
    """The setup of a fixture wider than a test (or the seed): its writes are committed, and
    stay until :meth:`end` takes them back out (see :mod:`fastapi_testbed.scoped`)::

        level = binder.level("admin")
        with level:
            create_admin()        # committed: every test of the fixture's scope sees it
        ...
        level.end()               # the fixture's scope is over: its rows are gone
    """

    def __init__(self, binder: EngineBinder, name: str) -> None:
        super().__init__(binder, isolation="level")
        self.name = name
        self.changes: dict[Any, Change] = {}  # database -> what the setup changed in it

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.binder.current_scope = self._previous
        for database in self.touched:
            if database.ready:
                change = self.binder.images.of(database).settle()
                if change:
                    self.changes[database] = change

    def end(self) -> None:
        """Take back out what the setup wrote (the fixture was torn down)."""
        changes, self.changes = self.changes, {}
        if not changes:
            return
        test = self.binder.current_scope
        if test is not None and not isinstance(test, Level) and (test.connections or test.closers):
            # the test's own fixtures are torn down by now: end its transaction, whose locks
            # the restore would wait for
            test.close()
        errors: list[BaseException] = []
        for database, change in changes.items():
            try:
                self.binder.images.of(database).revert(change)
            except Exception as exc:  # every database is restored; the first error is raised
                errors.append(exc)
        if errors:
            raise errors[0]


def _origin() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_SKIPPED_MODULES):
            filename = frame.f_code.co_filename
            with suppress(ValueError):  # outside the working directory: the full path
                filename = str(Path(filename).resolve().relative_to(Path.cwd()))
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "unknown"


class EngineBinder:
    """Points every engine created while installed at a test database (see module docstring)."""

    def __init__(
        self,
        urls: Any,
        *,
        database_factory: Callable[[URL, bool], Any],
        loop_factory: Callable[[], LoopThread] = LoopThread,
    ) -> None:
        self.urls = urls
        self._database_factory = database_factory
        self._loop_factory = loop_factory
        self._loop: LoopThread | None = None
        self.engines: list[BoundEngine] = []
        self.groups: dict[tuple[str, bool], Group] = {}
        self.databases: dict[tuple[Any, ...], Any] = {}
        self.current_scope: Scope | None = None
        self._patched: list[tuple[Any, str, Any]] = []
        self.drivers = DriverGuard()
        self.images = Images()  # the rows every test starts with, per database

    # --- install ----------------------------------------------------------------------------
    def __enter__(self) -> EngineBinder:
        global _ACTIVE
        if _ACTIVE is not None:
            raise RuntimeError("an EngineBinder is installed already")
        _ACTIVE = self
        wrapper, original = self._create_engine_wrapper(), _ORIGINAL_CREATE_ENGINE
        for module in list(sys.modules.values()):  # every alias of create_engine, found by identity
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict) or namespace.get("__name__", "").startswith(
                "fastapi_testbed"
            ):
                continue
            for name, value in list(namespace.items()):
                if value is original:
                    self._patched.append((module, name, value))
                    setattr(module, name, wrapper)
        Engine.raw_connection = _raw_connection  # type: ignore[method-assign]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _ACTIVE
        for module, name, value in reversed(self._patched):
            setattr(module, name, value)
        self._patched.clear()
        Engine.raw_connection = _ORIGINAL_RAW_CONNECTION  # type: ignore[method-assign]
        self.drivers.uninstall()
        self.images.close()
        _ACTIVE = None

    @property
    def loop(self) -> LoopThread:
        """The thread that owns every async driver connection (see bridge.py)."""
        if self._loop is None:
            self._loop = self._loop_factory()
        return self._loop

    def close_loop(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def run_in_greenlet(self, function: Callable[[], Any]) -> Any:
        """Call a sync facade of async drivers (SQLAlchemy's greenlet bridge) from plain code."""
        from sqlalchemy.util import greenlet_spawn

        return self.loop.run(greenlet_spawn(function))

    # --- engines ----------------------------------------------------------------------------
    def _create_engine_wrapper(self) -> Callable[..., Engine]:
        binder = self

        def create_engine(url: str | URL, **kwargs: Any) -> Engine:
            if kwargs.pop(INTERNAL, False):
                return _ORIGINAL_CREATE_ENGINE(url, **kwargs)
            return binder.create_engine(url, kwargs, origin=_origin())

        create_engine.__doc__ = _ORIGINAL_CREATE_ENGINE.__doc__
        create_engine.__wrapped__ = _ORIGINAL_CREATE_ENGINE  # type: ignore[attr-defined]
        return create_engine

    def create_engine(self, url: str | URL, kwargs: dict[str, Any], *, origin: str) -> Engine:
        app_url = make_url(url)
        is_async = bool(kwargs.get("_is_async"))
        test_url = self.urls.map(app_url, is_async=is_async)
        kwargs = self._adapt(app_url, test_url, kwargs, is_async=is_async)
        engine: Engine = _ORIGINAL_CREATE_ENGINE(test_url, **kwargs)
        group = self.group_for(test_url, is_async=is_async, dialect=engine.dialect)
        self.register(engine, group)
        # an app that makes its engine in its lifespan makes one per test: forget dropped ones
        self.engines = self.live_engines()
        self.engines.append(
            BoundEngine(
                app_url=app_url,
                test_url=test_url,
                origin=origin,
                is_async=is_async,
                group=group,
                ref=weakref.ref(engine),
            )
        )
        return engine

    def _adapt(
        self, app_url: URL, test_url: URL, kwargs: dict[str, Any], *, is_async: bool
    ) -> dict[str, Any]:
        """The app's engine options, less those that only fit the app's own backend."""
        kwargs = dict(kwargs)
        connect_args = dict(kwargs.get("connect_args") or {})
        if app_url.drivername != test_url.drivername:
            connect_args = {}  # the options of another driver
        to_sqlite = test_url.get_backend_name() == "sqlite"
        if to_sqlite and app_url.get_backend_name() != "sqlite":
            for key in ("pool_size", "max_overflow", "pool_timeout", "pool_use_lifo"):
                kwargs.pop(key, None)  # SQLite files get SQLAlchemy's default pool
        if kwargs.get("poolclass") is StaticPool and to_sqlite:
            del kwargs["poolclass"]  # a StaticPool serves :memory:; the test database is a file
        if to_sqlite:
            connect_args["check_same_thread"] = False  # the app's threads share test connections
        elif is_async and "creator" not in kwargs and "async_creator_fn" not in connect_args:
            connect = driver_connect(test_url.get_driver_name())
            connect_args["async_creator_fn"] = bridged_connect(lambda: self.loop, connect)
        kwargs["connect_args"] = connect_args
        return kwargs

    def register(self, engine: Engine, group: Group) -> None:
        """Route ``engine``'s connections through ``group`` (called for each app engine)."""
        engine.dialect._testbed_group = group  # type: ignore[attr-defined]
        sqlite = engine.dialect.name == "sqlite"
        if group.is_async and not sqlite:
            hop_for_dialect(engine.dialect)  # one crossing per adapter call, not per driver call

        def begin_statement() -> str | None:
            if not sqlite:
                return None
            scope = self.current_scope
            return (
                "BEGIN IMMEDIATE"
                if scope is not None and scope.isolation == "truncate"
                else ("BEGIN")
            )

        install_dialect_overrides(engine, begin_statement=begin_statement)
        guard_aiosqlite(engine)
        if sqlite:

            @event.listens_for(engine, "connect")
            def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # the plugin says BEGIN itself

        if engine.dialect.name in {"mysql", "mariadb"}:
            database = group.database

            @event.listens_for(engine, "before_cursor_execute", retval=True)
            def _ddl(
                conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
            ) -> tuple[str, Any]:
                # MariaDB commits before and after DDL: on the test's connection it would end
                # the test's transaction. The app's own create_all runs on the plugin's instead.
                if statement.lstrip()[:1] not in "CcAaDdRrTt" or shared_of(conn.connection) is None:
                    return statement, parameters
                if MYSQL_CREATE.match(statement):
                    database.execute_ddl(statement)
                    return "DO 0", parameters
                if MYSQL_DDL.match(statement):
                    raise TestbedError(DDL_IN_TEST.format(statement=statement.strip()[:80]))
                return statement, parameters

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            fairy = conn.connection
            conn.info["_testbed_wrote"] = getattr(fairy, WROTE_KEY, True)
            before_statement(fairy, statement)

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            after_statement(conn.connection, statement, conn.info.pop("_testbed_wrote", True))

        @event.listens_for(engine, "handle_error")
        def _failed(context: Any) -> None:
            connection = context.connection
            if connection is not None and not connection.closed:
                statement_failed(connection.connection)

    def group_for(self, url: URL, *, is_async: bool, dialect: Dialect) -> Group:
        key = (url.render_as_string(hide_password=False), is_async)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(self, url, is_async=is_async, dialect=dialect)
        return group

    def database_for(self, url: URL, *, is_async: bool) -> Any:
        key = identity(url)
        database = self.databases.get(key)
        if database is None:
            database = self.databases[key] = self._database_factory(url, is_async)
        return database

    def live_engines(self) -> list[BoundEngine]:
        return [bound for bound in self.engines if bound.engine is not None]

    # --- tests ------------------------------------------------------------------------------
    def scope(self, isolation: str = "transaction") -> Scope:
        """A test (a context manager): inside, every test engine hands out the test's connection."""
        return Scope(self, isolation)

    def level(self, name: str) -> Level:
        """The setup of a wider fixture: what it writes outlives each test, until ``end()``."""
        return Level(self, name)

    def check_foreign(self, engine: Engine) -> None:
        """Refuse a connection of an engine the binder did not make to a non-test database."""
        if engine.dialect.__dict__.get(INTERNAL):
            return
        url = engine.url
        name = app_database_name(url)
        if url.get_backend_name() == "sqlite" and not name:
            return  # an in-memory database holds nothing to protect
        if name.startswith(TEST_PREFIX):
            return
        raise TestbedError(FOREIGN_DATABASE.format(url=render(url), name=name or url.database))


def _raw_connection(self: Engine) -> Any:
    group: Group | None = self.dialect.__dict__.get("_testbed_group")
    if group is not None:
        return group.checkout(self)
    binder = _ACTIVE
    if binder is not None:
        binder.check_foreign(self)
    return _ORIGINAL_RAW_CONNECTION(self)
