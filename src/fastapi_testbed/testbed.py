"""The session's runtime (binder, databases, app) and the per-test ``testbed`` object."""

from __future__ import annotations

import inspect as pyinspect  # sqlalchemy's inspect has the short name here
import sys
from collections.abc import Awaitable, Callable, Iterator
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm import Session, sessionmaker

from fastapi_testbed.binding import BoundEngine, EngineBinder, Scope
from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.config import Settings
from fastapi_testbed.database import TestDatabase
from fastapi_testbed.engines import AnyEngine
from fastapi_testbed.errors import (
    EMPTY_METADATA,
    NAME_TAKEN,
    NEEDS_APP,
    NOT_A_SESSIONMAKER,
    NOT_ASGI,
    NOT_METADATA,
    TestbedError,
)
from fastapi_testbed.importing import import_string
from fastapi_testbed.ownership import Claim, Ownership
from fastapi_testbed.urls import _slug, app_database_name, render

__all__ = ["ISOLATIONS", "Runtime", "Testbed"]

T = TypeVar("T")
ISOLATIONS = ("transaction", "truncate")


class Runtime:
    """What lives for the whole session: the binder, the test databases, the app."""

    def __init__(
        self,
        settings: Settings,
        *,
        urls: Any,
        url: URL,
        is_async: bool,
        app_urls: tuple[tuple[str, str], ...] = (),
        ownership: Ownership | None = None,
    ) -> None:
        self.settings = settings
        self.ownership = ownership or Ownership(cache_dir=settings.root / ".pytest_cache")
        self.report: Callable[[str], None] = lambda line: None  # the plugin prints these
        self.url = url  # the database of an app with no engine of its own
        self.is_async = is_async
        self.app_urls = app_urls
        self.binder = EngineBinder(urls, database_factory=self.database)
        self._main: BoundEngine | None = None
        self._fallback: BoundEngine | None = None
        self._fallback_engine: Any = None
        self._factories: dict[int, Callable[[], Any]] = {}

    def close(self) -> None:
        """Close the app's connections, drop the test databases, stop the loop thread."""
        binder = self.binder
        errors: list[BaseException] = []
        for group in list(binder.groups.values()):
            try:
                group.release_idle()  # the connection kept for the next test, back to its pool
            except Exception as exc:  # pragma: no cover - a broken connection: drop anyway
                errors.append(exc)
        for bound in binder.live_engines():
            engine = bound.engine
            if engine is None:
                continue
            try:
                if bound.is_async:
                    binder.run_in_greenlet(engine.dispose)
                else:
                    engine.dispose()
            except Exception as exc:  # pragma: no cover - a broken connection: drop anyway
                errors.append(exc)
        for database in list(binder.databases.values()):
            try:
                database.close()
            except Exception as exc:
                errors.append(exc)
        self.ownership.close()  # the locks go with the connections that held them
        binder.close_loop()
        if errors:
            raise errors[0]

    def _import(self, key: str, value: str) -> Any:
        return import_string(value, key=key, where=self.settings.pyproject, root=self.settings.root)

    @property
    def loop(self) -> LoopThread:
        return self.binder.loop

    # --- what builds each database ---------------------------------------------------------
    def metadata(self, key: str, value: str) -> MetaData:
        metadata = self._import(key, value)
        if not isinstance(metadata, MetaData):
            raise TestbedError(
                NOT_METADATA.format(
                    value=value, found=type(metadata).__name__, path=self.settings.pyproject
                )
            )
        if not metadata.tables:
            raise TestbedError(EMPTY_METADATA.format(value=value, path=self.settings.pyproject))
        return metadata

    def schema_of(self, url: URL) -> tuple[MetaData | None, Path | None]:
        """The metadata and alembic.ini that build the test database at ``url``."""
        settings = self.settings
        name = self.binder.urls.app_name_of(url)
        for app_name, entry in settings.databases.items():
            if name == _slug(app_name):
                key = f"databases.{app_name}.metadata"
                metadata = self.metadata(key, entry["metadata"]) if entry["metadata"] else None
                return metadata, entry["alembic_ini"]
        metadata = self.metadata("metadata", settings.metadata) if settings.metadata else None
        return metadata, settings.alembic_ini

    def database(self, url: URL, is_async: bool) -> TestDatabase:
        settings = self.settings

        def claim() -> Claim:
            found = self.ownership.claim_of(url)
            if found is None:  # not claimed when mapped (--collect-only): claimed at first use
                self.ownership.claim(url, is_async=is_async)
                found = self.ownership.claim_of(url)
            if found is None:  # another run holds the name the app was given already
                raise TestbedError(NAME_TAKEN.format(url=render(url)))
            return found

        worker = self.binder.urls.worker if settings.xdist_template else None
        return TestDatabase(
            url,
            claim=claim,
            report=lambda line: self.report(line),
            loop=lambda: self.binder.loop,
            is_async=is_async,
            schema=lambda: self.schema_of(url),
            reuse=settings.reuse_db,
            recreate=settings.create_db,
            app_urls=self.app_urls,
            source=settings.source("database_url"),
            # xdist_template: the workers copy their schema from one template (database.py)
            template=(lambda found: self.ownership.template_home(found, _slug(worker)))
            if worker
            else None,
        )

    # --- the app ----------------------------------------------------------------------------
    @cached_property
    def app(self) -> Any:
        settings = self.settings
        if not settings.app:
            raise TestbedError(NEEDS_APP.format(path=settings.pyproject))
        app = self._import("app", settings.app)
        problem = asgi_problem(app)
        if problem is not None:
            found, hint = problem
            raise TestbedError(
                NOT_ASGI.format(value=settings.app, found=found, path=settings.pyproject, hint=hint)
            )
        return app

    def load(self) -> None:
        """Import what the table names, so the app's engines exist (no connection is made)."""
        if self.settings.app:
            _ = self.app
        if self.settings.metadata:
            self.metadata("metadata", self.settings.metadata)
        _ = self.sessionmakers
        _ = self.dependency
        _ = self._named_engine

    @cached_property
    def sessionmakers(self) -> list[Any]:
        makers = []
        for path in self.settings.sessionmakers:
            maker = self._import("sessionmakers", path)
            if not isinstance(maker, sessionmaker | async_sessionmaker):
                raise TestbedError(
                    NOT_A_SESSIONMAKER.format(value=path, found=type(maker).__name__)
                )
            makers.append(maker)
        return makers

    @cached_property
    def dependency(self) -> Callable[..., Any] | None:
        if not self.settings.dependency:
            return None
        return self._import("dependency", self.settings.dependency)  # type: ignore[no-any-return]

    @cached_property
    def _named_engine(self) -> Any:
        """The engine `engine` names (a factory is called once): the main one."""
        if not self.settings.engine:
            return None
        engine = self._import("engine", self.settings.engine)
        return engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @property
    def main(self) -> BoundEngine:
        """The engine of db_session: `engine`, else the main database's first, else the only one.

        Until the app has made an engine (a factory it calls at its first request), the plugin's
        own stands in, and is not kept: the app's is chosen once it exists.
        """
        if self._main is not None:
            return self._main
        self.load()
        named = self._named_engine
        engines = self.binder.live_engines()
        main_name = self.binder.urls.main_test_name
        candidates = (
            [bound for bound in engines if bound.engine is named]
            if named is not None
            else [
                b
                for b in engines
                if main_name is None or app_database_name(b.test_url) == main_name
            ]
            or engines
        )
        candidates = [bound for bound in candidates if bound.engine is not self._fallback_engine]
        if candidates:
            self._main = candidates[0]
            return self._main
        if self._fallback is None:
            if self.is_async:
                from sqlalchemy.ext.asyncio import create_async_engine

                self._fallback_engine = create_async_engine(self.url).sync_engine
            else:
                from sqlalchemy import create_engine

                self._fallback_engine = create_engine(self.url)
            self._fallback = self.binder.live_engines()[-1]
        return self._fallback

    @property
    def engine(self) -> AnyEngine:
        """The main engine, as the app sees it: an AsyncEngine for an async app."""
        bound = self.main
        sync_engine = bound.engine
        assert sync_engine is not None
        return (
            AsyncEngine._retrieve_proxy_for_target(sync_engine) if bound.is_async else sync_engine
        )

    @property
    def session_factory(self) -> Callable[[], Any]:
        """How db_session is made: the app's own sessionmaker, session class and options."""
        if self.sessionmakers:
            return self.sessionmakers[0]  # type: ignore[no-any-return]
        main = self.main
        factory = self._factories.get(id(main))
        if factory is None:
            engine = self.engine
            maker = _find_sessionmaker(self.settings.root, engine)
            if maker is not None:
                factory = maker
            else:
                session_class = _find_session_class(self.settings.root, is_async=main.is_async)

                def factory() -> Any:
                    return session_class(bind=engine, expire_on_commit=False)

            self._factories[id(main)] = factory
        return factory

    def start(self) -> Runtime:
        """Import the app and build its main test database (dropped by :meth:`close`)."""
        self.main.group.database.ensure()
        return self


def asgi_problem(app: Any) -> tuple[str, str] | None:
    """What is wrong with ``app`` as an ASGI application, or None when it may be one.

    Only sure cases are refused (None, a module, a class, a router, a function that does not
    take scope, receive and send); any other callable is left to the ASGI server's judgement.
    """
    if app is None:
        return "None", " Check that the module assigns it."
    if pyinspect.ismodule(app):
        return f"the module {app.__name__!r}", ' Add the attribute after a colon: "module:app".'
    if pyinspect.isclass(app):
        return (
            f"the class {app.__name__}",
            f' Name an instance, or a factory with "()": "{app.__module__}:create_app()".',
        )
    starlette = sys.modules.get("starlette.routing")
    applications = sys.modules.get("starlette.applications")
    if (
        starlette is not None
        and isinstance(app, starlette.Router | starlette.BaseRoute)
        and not (applications is not None and isinstance(app, applications.Starlette))
    ):
        return (
            _a(type(app).__name__),
            " A router has no middleware, exception handlers or dependency_overrides of its "
            "own: name the FastAPI app that includes it.",
        )
    if not callable(app):
        return f"{_a(type(app).__name__)} ({app!r:.60})", ""
    if pyinspect.isfunction(app) or pyinspect.ismethod(app):
        signature = pyinspect.signature(app)
        if pyinspect.iscoroutinefunction(app) and _accepts(signature, 3):
            return None
        hint = (
            f' A factory is named with "()": "{app.__module__}:{app.__name__}()".'
            if _accepts(signature, 0) and not pyinspect.iscoroutinefunction(app)
            else ""
        )
        return f"the function {app.__name__}()", hint
    return None


def _a(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _accepts(signature: pyinspect.Signature, count: int) -> bool:
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def _project_modules(root: Path) -> Iterator[Any]:
    prefix = str(root.resolve())
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if filename and filename.startswith(prefix) and "site-packages" not in filename:
            yield module


def _find_sessionmaker(root: Path, engine: AnyEngine) -> Any:
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    for module in _project_modules(root):
        for value in list(vars(module).values()):
            if isinstance(value, sessionmaker | async_sessionmaker):
                bind = value.kw.get("bind")
                bind = bind.sync_engine if isinstance(bind, AsyncEngine) else bind
                if bind is target:
                    return value
    return None


def _find_session_class(root: Path, *, is_async: bool) -> type[Any]:
    """SQLModel's Session (with .exec()) for an app that uses it, else SQLAlchemy's."""
    if "sqlmodel" in sys.modules:
        import sqlmodel

        candidates: list[type[Any]] = [sqlmodel.Session]
        try:
            from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

            candidates.append(SQLModelAsyncSession)
        except ImportError:  # pragma: no cover - sqlmodel without its asyncio extra
            pass
        for module in _project_modules(root):
            for value in list(vars(module).values()):
                if any(value is candidate for candidate in candidates):
                    return SQLModelAsyncSession if is_async else sqlmodel.Session
    return AsyncSession if is_async else Session


class Testbed:
    """What a test gets from the ``testbed`` fixture: the app, the database and its isolation.

    Example::

        async def test_rows(testbed, db_session):
            assert testbed.url.database.startswith("test_")
    """

    __test__ = False

    def __init__(self, runtime: Runtime, scope: Scope) -> None:
        self.runtime = runtime
        self.scope = scope
        self.isolation_name = scope.isolation
        self._overrides: dict[Any, Any] | None = None
        self._sessions: list[Any] = []
        self._connection: Any = None

    # --- what tests use -------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    config = settings

    @property
    def app(self) -> Any:
        """The app under test (imported once per session, after the environment is prepared)."""
        app = self.runtime.app
        if self._overrides is None and hasattr(app, "dependency_overrides"):
            self._overrides = dict(app.dependency_overrides)
        return app

    @property
    def url(self) -> URL:
        """The main test database."""
        return self.runtime.main.test_url

    @property
    def is_async(self) -> bool:
        return self.runtime.main.is_async

    @property
    def engine(self) -> AnyEngine:
        return self.runtime.engine

    @property
    def engines(self) -> list[BoundEngine]:
        """Every engine the app created, with where it came from and its test database."""
        return self.runtime.binder.live_engines()

    @property
    def database(self) -> TestDatabase:
        return self.runtime.main.group.database  # type: ignore[no-any-return]

    @property
    def connection(self) -> Any:
        """A connection of the main engine inside the test's isolation (closed at its end)."""
        if self._connection is None:
            engine = self.engine
            if isinstance(engine, AsyncEngine):
                self._connection = self.run(engine.connect())
            else:
                self._connection = engine.connect()
        return self._connection

    def session(self) -> Any:
        """A new session of the app's own class inside the test's isolation; closed at its end."""
        session = self.runtime.session_factory()
        self._sessions.append(session)
        return session

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` to completion from sync code (a plain ``def`` test or a factory)."""
        return self.runtime.loop.run(awaitable)

    # --- after each request: what the app changed, the test's sessions read -------------------
    def _stale(self) -> list[tuple[Any, Any]]:
        tables = self.scope.written_tables()
        if not tables:
            return []
        stale = []
        for session in self._sessions:
            sync = session.sync_session if isinstance(session, AsyncSession) else session
            for obj in list(sync.identity_map.values()):
                if obj in sync.dirty or obj in sync.new:
                    continue  # the test's own unflushed changes win
                names = {table.name.lower() for table in inspect(obj).mapper.tables}
                if names & tables:
                    stale.append((session, obj))
        return stale

    def after_request(self) -> None:
        """Refresh the objects of the test's sessions the app updated; forget those it deleted."""
        for session, obj in self._stale():
            if isinstance(session, AsyncSession):
                self.run(_reload_async(session, obj))
            else:
                _reload(session, obj)

    async def after_request_async(self) -> None:
        for session, obj in self._stale():
            if isinstance(session, AsyncSession):
                await _reload_async(session, obj)
            else:
                _reload(session, obj)

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Testbed:
        if self.settings.app:
            _ = self.app  # snapshot dependency_overrides before the test touches them
        if self.runtime.dependency is not None:
            self.app.dependency_overrides[self.runtime.dependency] = self._dependency_override()
        self.scope.closers.append(self._close)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._overrides is not None:
            overrides = self.runtime.app.dependency_overrides
            overrides.clear()
            overrides.update(self._overrides)

    def _close(self) -> None:
        sessions, self._sessions = self._sessions, []
        on_loop = self.scope.greenlet_closers  # async ones close in the scope's last crossing
        for session in sessions:
            if isinstance(session, AsyncSession):
                on_loop.append(session.sync_session.close)
            else:
                session.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            if isinstance(connection, Engine):  # pragma: no cover - never: a Connection
                return
            if isinstance(connection, AsyncConnection):
                if connection.sync_connection is not None:
                    on_loop.append(connection.sync_connection.close)
            else:
                connection.close()

    def _dependency_override(self) -> Callable[..., Any]:
        if self.is_async:

            async def get_session() -> Any:
                session = self.session()
                try:
                    yield session
                finally:
                    await session.close()

            return get_session

        def get_sync_session() -> Iterator[Session]:
            session = self.session()
            try:
                yield session
            finally:
                session.close()

        return get_sync_session


def _reload(session: Session, obj: Any) -> None:
    state = inspect(obj)
    # populate_existing reloads in place; a row the app deleted gives None and leaves the
    # object's last values readable, as a deleted Django instance keeps its fields
    if session.get(state.mapper.class_, state.identity, populate_existing=True) is None:
        session.expunge(obj)


async def _reload_async(session: AsyncSession, obj: Any) -> None:
    state = inspect(obj)
    if await session.get(state.mapper.class_, state.identity, populate_existing=True) is None:
        session.expunge(obj)
