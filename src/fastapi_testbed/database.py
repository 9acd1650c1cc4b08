"""Create the test database, build its schema once, drop it at the end (a "janitor").

Used as a context manager, with no pytest in sight::

    with TestDatabase(url, engine=engine, loop=loop, metadata=Base.metadata) as database:
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.engines import AnyEngine, create_test_engine, dispose, run_sync
from fastapi_testbed.errors import (
    MISSING_TABLES,
    SCHEMA_FAILED,
    SERVER_REFUSED,
    UNREACHABLE,
    TestbedError,
)
from fastapi_testbed.urls import SETTING, check_test_database, render

__all__ = ["TestDatabase", "empty_tables"]


class TestDatabase:
    """A test database on a server (or a SQLite file): created and built once, dropped at the end.

    ``schema`` returns what builds it (a MetaData, an alembic.ini, or neither) and is called at
    the first :meth:`ensure`, so the app's models are imported only once the environment is set.
    """

    __test__ = False

    def __init__(
        self,
        url: URL,
        *,
        loop: LoopThread | Callable[[], LoopThread],
        is_async: bool,
        schema: Callable[[], tuple[MetaData | None, Path | None]] = lambda: (None, None),
        reuse: bool = False,
        recreate: bool = False,
        app_urls: Iterable[tuple[str, str]] = (),
        source: str = "default",
    ) -> None:
        self.url = url
        self._loop = loop
        self.is_async = is_async
        self._schema = schema
        self.metadata: MetaData | None = None
        self.alembic_ini: Path | None = None
        self.reuse = reuse
        self.recreate = recreate
        self.app_urls = tuple(app_urls)
        self.source = source
        self.created = False
        self.ready = False
        self.building = False
        self._engine: AnyEngine | None = None
        self._tables: list[str] | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def loop(self) -> LoopThread:
        return self._loop if isinstance(self._loop, LoopThread) else self._loop()

    @property
    def engine(self) -> AnyEngine:
        """The plugin's own engine on this database (schema, emptying)."""
        if self._engine is None:
            self._engine = create_test_engine(self.url, is_async=self.is_async, loop=self.loop)
        return self._engine

    # --- lifecycle -------------------------------------------------------------------------
    def ensure(self) -> TestDatabase:
        """Create the database and build its schema, once (connections meanwhile go through)."""
        if self.ready or self.building:
            return self
        with self._lock:
            if self.ready or self.building:
                return self
            self.building = True
            try:
                self._ensure()
            finally:
                self.building = False
        return self

    def _ensure(self) -> None:
        self.metadata, self.alembic_ini = self._schema()
        check_test_database(self.url, "create", app_urls=self.app_urls)
        exists = self._exists()
        if exists and (self.recreate or not self.reuse):
            self._drop()
            exists = False
        if not exists:
            self._create()
        self.created = True
        self.build_schema()
        self.check_tables()
        self.ready = True

    __enter__ = ensure

    def close(self) -> None:
        """Close the plugin's connections; drop the database unless it is to be reused."""
        if self._engine is not None:
            dispose(self._engine, self.loop)
            self._engine = None
        if self.created and not self.reuse:
            self.created = self.ready = False
            self._drop()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- server-level work, on a sync connection to the server's maintenance database -------
    def _admin_url(self) -> URL:
        if self.backend == "postgresql":
            return self.url.set(database="postgres")
        return self.url._replace(database=None)  # URL.set() treats None as "leave as is"

    def _admin(self, statements: list[str], query: str | None = None) -> Any:
        admin = create_test_engine(
            self._admin_url(),
            is_async=self.is_async,
            loop=self.loop,
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )

        def work(connection: Connection) -> Any:
            for statement in statements:
                connection.exec_driver_sql(statement)
            if query is not None:
                return connection.execute(text(query), {"name": self.url.database}).first()
            return None

        try:
            return run_sync(admin, self.loop, work)  # AUTOCOMMIT: no BEGIN around CREATE DATABASE
        except DBAPIError as exc:
            if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
                raise TestbedError(
                    UNREACHABLE.format(
                        url=render(self._admin_url()), source=self.source, error=_first_line(exc)
                    )
                ) from exc
            raise TestbedError(
                SERVER_REFUSED.format(
                    url=render(self._admin_url()),
                    statement="; ".join(statements) or query,
                    error=_first_line(exc),
                    setting=SETTING,
                )
            ) from exc
        except OSError as exc:
            raise TestbedError(
                UNREACHABLE.format(
                    url=render(self._admin_url()), source=self.source, error=_first_line(exc)
                )
            ) from exc
        finally:
            dispose(admin, self.loop)

    def _quoted(self) -> str:
        preparer = self.engine.dialect.identifier_preparer
        return str(preparer.quote_identifier(self.url.database or ""))

    def _exists(self) -> bool:
        if self.backend == "sqlite":
            return Path(self.url.database or "").exists()
        if self.backend == "postgresql":
            query = "SELECT 1 FROM pg_database WHERE datname = :name"
        else:
            query = "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"
        return self._admin([], query) is not None

    def _create(self) -> None:
        check_test_database(self.url, "create", app_urls=self.app_urls)
        if self.backend == "sqlite":
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            return
        suffix = " CHARACTER SET utf8mb4" if self.backend in {"mysql", "mariadb"} else ""
        self._admin([f"CREATE DATABASE {self._quoted()}{suffix}"])

    def _drop(self) -> None:
        check_test_database(self.url, "drop", app_urls=self.app_urls)
        if self.backend == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.url.database}{suffix}").unlink(missing_ok=True)
            return
        force = " WITH (FORCE)" if self.backend == "postgresql" else ""
        self._admin([f"DROP DATABASE IF EXISTS {self._quoted()}{force}"])

    # --- schema -----------------------------------------------------------------------------
    def build_schema(self) -> None:
        """create_all (idempotent), or `alembic upgrade head` in a thread with no running loop."""
        check_test_database(self.url, "build the schema of", app_urls=self.app_urls)
        try:
            if self.metadata is not None and self.alembic_ini is None:
                metadata = self.metadata
                run_sync(self.engine, self.loop, lambda c: metadata.create_all(c))
            elif self.alembic_ini is not None:
                self._alembic_upgrade()
        except TestbedError:
            raise
        except (OperationalError, OSError) as exc:
            raise TestbedError(
                UNREACHABLE.format(url=render(self.url), source=self.source, error=_first_line(exc))
            ) from exc
        except Exception as exc:
            how = "alembic upgrade head" if self.alembic_ini is not None else "metadata.create_all"
            setting = "alembic_ini" if self.alembic_ini is not None else "metadata"
            raise TestbedError(
                SCHEMA_FAILED.format(
                    url=render(self.url), how=how, error=_first_line(exc), setting=setting
                )
            ) from exc

    def check_tables(self) -> None:
        """Stop when the built database lacks tables the app's metadata declares."""
        metadata = self.metadata
        if metadata is None:
            return
        expected = {table.name for table in metadata.sorted_tables}
        found: set[str] = set(
            run_sync(self.engine, self.loop, lambda c: inspect(c).get_table_names())
        )
        missing = sorted(expected - found)
        if missing:
            how = f"alembic upgrade head ({self.alembic_ini})" if self.alembic_ini else "create_all"
            raise TestbedError(
                MISSING_TABLES.format(url=render(self.url), tables=", ".join(missing), how=how)
            )

    def _alembic_upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        assert self.alembic_ini is not None
        ini = self.alembic_ini
        config = Config(str(ini))
        location = config.get_main_option("script_location") or "alembic"
        if "%(here)s" not in location and not Path(location).is_absolute() and ":" not in location:
            config.set_main_option("script_location", str(ini.parent / location))
        url = self.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
        failure: list[BaseException] = []

        def upgrade() -> None:
            try:
                command.upgrade(config, "head")
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)

        # env.py files call asyncio.run(); give them a thread where no loop is running.
        worker = threading.Thread(target=upgrade, name="fastapi-testbed-alembic")
        worker.start()
        worker.join()
        if failure:
            raise failure[0]

    def execute_ddl(self, statement: str) -> None:
        """Run a DDL statement on the plugin's own connection: committed, outside any test."""
        check_test_database(self.url, "change the schema of", app_urls=self.app_urls)
        run_sync(self.engine, self.loop, lambda c: c.exec_driver_sql(statement))
        self._tables = None

    # --- emptying, for isolation="truncate" ----------------------------------------------------
    def table_names(self, connection: Connection) -> list[str]:
        """Tables to empty, children first."""
        if self._tables is None:
            if self.metadata is not None:
                tables = list(reversed(self.metadata.sorted_tables))
            else:
                reflected = MetaData()
                reflected.reflect(connection)
                tables = [
                    t for t in reversed(reflected.sorted_tables) if t.name != "alembic_version"
                ]
            self._tables = [t.name for t in tables]
        return self._tables

    def empty(self) -> None:
        """Delete every row of every table (the schema and alembic_version stay)."""
        check_test_database(self.url, "empty", app_urls=self.app_urls)
        run_sync(self.engine, self.loop, lambda c: empty_tables(c, self.table_names(c)))


def empty_tables(connection: Connection, names: list[str]) -> None:
    """Delete all rows of ``names`` (children first) in the dialect's fastest safe way."""
    if not names:
        return
    quote = connection.dialect.identifier_preparer.quote
    backend = connection.dialect.name
    if backend == "postgresql":
        joined = ", ".join(quote(name) for name in names)
        connection.exec_driver_sql(f"TRUNCATE TABLE {joined} RESTART IDENTITY CASCADE")
        return
    if backend in {"mysql", "mariadb"}:
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in names:
            connection.exec_driver_sql(f"DELETE FROM {quote(name)}")
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
        return
    for name in names:
        connection.exec_driver_sql(f"DELETE FROM {quote(name)}")


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
