"""Create the test database, build its schema once, drop it at the end (a "janitor").

Used as a context manager, with no pytest in sight::

    with TestDatabase(url, engine=engine, loop=loop, metadata=Base.metadata) as database:
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.engines import AnyEngine, create_test_engine, dispose, run_sync
from fastapi_testbed.errors import SCHEMA_FAILED, SERVER_REFUSED, UNREACHABLE, TestbedError
from fastapi_testbed.urls import SETTING, check_test_database, render

__all__ = ["TestDatabase", "empty_tables"]


class TestDatabase:
    """A test database on a server (or a SQLite file): created on enter, dropped on exit."""

    __test__ = False

    def __init__(
        self,
        url: URL,
        *,
        engine: AnyEngine,
        loop: LoopThread,
        is_async: bool,
        metadata: MetaData | None = None,
        alembic_ini: Path | None = None,
        reuse: bool = False,
        recreate: bool = False,
        app_urls: Iterable[tuple[str, str]] = (),
        source: str = "default",
    ) -> None:
        self.url = url
        self.engine = engine
        self.loop = loop
        self.is_async = is_async
        self.metadata = metadata
        self.alembic_ini = alembic_ini
        self.reuse = reuse
        self.recreate = recreate
        self.app_urls = tuple(app_urls)
        self.source = source
        self.created = False
        self._tables: list[str] | None = None

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> TestDatabase:
        check_test_database(self.url, "create", app_urls=self.app_urls)
        exists = self._exists()
        if exists and (self.recreate or not self.reuse):
            self._drop()
            exists = False
        if not exists:
            self._create()
        self.created = True
        self.build_schema()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        dispose(self.engine, self.loop)
        if self.created and not self.reuse:
            self._drop()

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
            if self.metadata is not None:
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
            how = "metadata.create_all" if self.metadata is not None else "alembic upgrade head"
            setting = "metadata" if self.metadata is not None else "alembic_ini"
            raise TestbedError(
                SCHEMA_FAILED.format(
                    url=render(self.url), how=how, error=_first_line(exc), setting=setting
                )
            ) from exc

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
