"""The session's runtime (database, engine, app) and the per-test ``testbed`` object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import MetaData
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.config import Settings
from fastapi_testbed.database import TestDatabase
from fastapi_testbed.engines import AnyEngine, create_test_engine
from fastapi_testbed.errors import (
    NEEDS_APP,
    NO_SCHEMA,
    NOT_A_SESSIONMAKER,
    NOT_METADATA,
    TestbedError,
)
from fastapi_testbed.importing import import_string
from fastapi_testbed.isolation import Isolation, TransactionIsolation, TruncateIsolation

__all__ = ["ISOLATIONS", "Runtime", "Testbed"]

T = TypeVar("T")
ISOLATIONS = ("transaction", "truncate")


class Runtime:
    """What lives for the whole session: the loop thread, the engine, the test database, the app."""

    def __init__(
        self, settings: Settings, *, url: URL, is_async: bool, app_urls: tuple[tuple[str, str], ...]
    ) -> None:
        self.settings = settings
        self.url = url
        self.is_async = is_async
        self.app_urls = app_urls
        self.loop: LoopThread | None = None
        self.database: TestDatabase | None = None

    def _import(self, key: str, value: str) -> Any:
        return import_string(value, key=key, where=self.settings.pyproject, root=self.settings.root)

    def __enter__(self) -> Runtime:
        settings = self.settings
        if settings.metadata is None and settings.alembic_ini is None:
            raise TestbedError(NO_SCHEMA.format(path=settings.pyproject))
        metadata = self._import("metadata", settings.metadata) if settings.metadata else None
        if metadata is not None and not isinstance(metadata, MetaData):
            raise TestbedError(
                NOT_METADATA.format(
                    value=settings.metadata, found=type(metadata).__name__, path=settings.pyproject
                )
            )
        self.loop = LoopThread()
        self.engine: AnyEngine = create_test_engine(
            self.url, is_async=self.is_async, loop=self.loop
        )
        self.database = TestDatabase(
            self.url,
            engine=self.engine,
            loop=self.loop,
            is_async=self.is_async,
            metadata=metadata,
            alembic_ini=settings.alembic_ini,
            reuse=settings.reuse_db,
            recreate=settings.create_db,
            app_urls=self.app_urls,
            source=settings.source("database_url"),
        )
        try:
            self.database.__enter__()
        except BaseException:
            self.loop.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.database is not None:
                self.database.__exit__(exc_type, exc, tb)
        finally:
            if self.loop is not None:
                self.loop.close()

    @cached_property
    def app(self) -> Any:
        if not self.settings.app:
            raise TestbedError(NEEDS_APP.format(path=self.settings.pyproject))
        return self._import("app", self.settings.app)

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


class Testbed:
    """What a test gets from the ``testbed`` fixture: the app, the database and its isolation.

    Example::

        async def test_rows(testbed, db_session):
            assert testbed.url.database.startswith("test_")
    """

    __test__ = False

    def __init__(self, runtime: Runtime, *, isolation: str = "transaction") -> None:
        self.runtime = runtime
        self.isolation_name = isolation
        self._overrides: dict[Any, Any] | None = None
        self._isolation: Isolation | None = None

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
        return self.runtime.url

    @property
    def is_async(self) -> bool:
        return self.runtime.is_async

    @property
    def engine(self) -> AnyEngine:
        return self.runtime.engine

    @property
    def database(self) -> TestDatabase:
        assert self.runtime.database is not None
        return self.runtime.database

    @property
    def connection(self) -> Any:
        """The test's connection (None under isolation="truncate")."""
        return self._isolation.connection if self._isolation else None

    def session(self) -> Any:
        """A new session inside the test's isolation; closed when the test ends."""
        assert self._isolation is not None
        return self._isolation.session()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` to completion from sync code (a plain ``def`` test or a factory)."""
        assert self.runtime.loop is not None
        return self.runtime.loop.run(awaitable)

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Testbed:
        runtime = self.runtime
        assert runtime.loop is not None
        kind = TruncateIsolation if self.isolation_name == "truncate" else TransactionIsolation
        options: dict[str, Any] = {
            "loop": runtime.loop,
            "is_async": runtime.is_async,
            "sessionmakers": runtime.sessionmakers,
        }
        if kind is TruncateIsolation:
            assert runtime.database is not None
            options["empty"] = runtime.database.empty
        if self.settings.app:
            _ = self.app  # snapshot dependency_overrides before the test touches them
        self._isolation = kind(runtime.engine, **options)
        self._isolation.__enter__()
        if runtime.dependency is not None:
            self.app.dependency_overrides[runtime.dependency] = self._dependency_override()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._overrides is not None:
                overrides = self.runtime.app.dependency_overrides
                overrides.clear()
                overrides.update(self._overrides)
        finally:
            isolation, self._isolation = self._isolation, None
            if isolation is not None:
                isolation.__exit__(exc_type, exc, tb)

    def _dependency_override(self) -> Callable[..., Any]:
        isolation = self._isolation
        assert isolation is not None

        if self.is_async:

            async def get_session() -> Any:
                session = isolation.session()
                try:
                    yield session
                finally:
                    await session.close()

            return get_session

        def get_sync_session() -> Iterator[Session]:
            session = isolation.session()
            try:
                yield session
            finally:
                session.close()

        return get_sync_session
