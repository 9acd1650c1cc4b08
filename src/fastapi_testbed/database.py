"""Create the test database, build its schema once, drop it at the end (a "janitor").

Used as a context manager, with no pytest in sight::

    with TestDatabase(url, engine=engine, loop=loop, metadata=Base.metadata) as database:
        ...
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateIndex, CreateTable

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.engines import AnyEngine, create_test_engine, dispose, run_sync
from fastapi_testbed.errors import (
    MISSING_TABLES,
    SCHEMA_FAILED,
    UNREACHABLE,
    TestbedError,
    first_line,
)
from fastapi_testbed.ownership import Claim, Marker
from fastapi_testbed.urls import check_test_database, render, script_location

__all__ = ["TestDatabase", "empty_tables"]


REBUILT = "testbed: {name}: {why}; rebuilt it"
EMPTIED = "testbed: {name}: a truncate test of a killed run left rows behind; emptied it"
REUSED = "testbed: {name}: reused, its schema unchanged"
TOOK_OVER = "testbed: {name}: not made by fastapi-testbed; taken over (--create-db) and rebuilt"


class TestDatabase:
    """A test database on a server (or a SQLite file): created and built once, dropped at the end.

    ``claim`` is the name this run holds (see ownership.py): the database is created with the
    plugin's marker, and only a marked one is ever dropped, emptied or rebuilt. ``schema``
    returns what builds it (a MetaData, an alembic.ini, or neither) and is called at the first
    :meth:`ensure`, so the app's models are imported only once the environment is set.
    """

    __test__ = False

    def __init__(
        self,
        url: URL,
        *,
        claim: Claim | Callable[[], Claim],
        loop: LoopThread | Callable[[], LoopThread],
        is_async: bool,
        schema: Callable[[], tuple[MetaData | None, Path | None]] = lambda: (None, None),
        reuse: bool = False,
        recreate: bool = False,
        app_urls: Iterable[tuple[str, str]] = (),
        source: str = "default",
        report: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.url = url
        self._claim = claim
        self._loop = loop
        self.is_async = is_async
        self._schema = schema
        self.metadata: MetaData | None = None
        self.alembic_ini: Path | None = None
        self.reuse = reuse
        self.recreate = recreate
        self.app_urls = tuple(app_urls)
        self.source = source
        self.report = report
        self.created = False  # it exists on the server, made or reused by this run
        self.ready = False
        self.building = False
        self.marker = Marker(keep=reuse)
        self._engine: AnyEngine | None = None
        self._tables: list[str] | None = None
        self._lock = threading.Lock()

    @cached_property
    def claim(self) -> Claim:
        """The name this run holds on the server (taken at the first use, if not before)."""
        return self._claim if isinstance(self._claim, Claim) else self._claim()

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
        claim, server, name = self.claim, self.claim.server, self.claim.name
        fingerprint = self.fingerprint()
        found = claim.marker
        if claim.existed:
            why = self._why_rebuild(found, fingerprint)
            if why is None:
                assert found is not None
                self.marker = found
                self.created = True
                if found.dirty:
                    self.report(EMPTIED.format(name=name))
                    self.empty()
                    self.marker.dirty = False
                    server.mark(name, self.marker)
                else:
                    self.report(REUSED.format(name=name))
                self.ready = True
                return
            if why:
                self.report(why.format(name=name))
            server.drop(name)
        self.marker = Marker(keep=self.reuse)
        server.create(name, self.marker)  # marked before anything else happens to it
        self.created = True
        self.build_schema()
        self.check_tables()
        self.marker.built, self.marker.fingerprint = True, fingerprint
        if self.reuse:  # whether emptying it later would lose rows of the build
            self.marker.seeded = self.has_rows()
        server.mark(name, self.marker)
        self.ready = True

    def _why_rebuild(self, found: Marker | None, fingerprint: str) -> str | None:
        """Why a database found under the claimed name is rebuilt ("" = silently), or None."""
        if found is None:
            return TOOK_OVER  # no marker: only --create-db gets this far
        if not self.reuse or self.recreate:
            return ""  # ours, from an earlier run: made afresh, as without --reuse-db
        if not found.built:
            return REBUILT.replace("{why}", "its last build did not finish")
        if found.fingerprint != fingerprint:
            return REBUILT.replace("{why}", "its models or migrations changed since it was built")
        if found.dirty and found.seeded:  # emptying would lose the rows the migrations wrote
            return REBUILT.replace("{why}", "a killed run left rows among the migrations' rows")
        return None

    __enter__ = ensure

    def mark_dirty(self) -> None:
        """A truncate test commits for real: until it ends cleanly, a reused database says so."""
        if self.reuse and self.created and self.ready and not self.marker.dirty:
            self.marker.dirty = True
            self.claim.server.mark(self.claim.name, self.marker)

    def close(self) -> None:
        """Close the plugin's connections; drop the database unless it is to be reused."""
        if self._engine is not None:
            dispose(self._engine, self.loop)
            self._engine = None
        if not self.created:
            return
        self.created = self.ready = False
        if not self.reuse:
            check_test_database(self.url, "drop", app_urls=self.app_urls)
            self.claim.server.drop(self.claim.name)
        elif self.marker.dirty:
            self.marker.dirty = False  # every truncate test emptied the tables after itself
            self.claim.server.mark(self.claim.name, self.marker)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def fingerprint(self) -> str:
        """What built the schema: the metadata's DDL for this dialect, and the migration files."""
        digest = hashlib.sha256(b"fastapi-testbed schema 1")
        if self.metadata is not None:
            dialect = self.engine.dialect
            for table in self.metadata.sorted_tables:
                digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
                for index in sorted(table.indexes, key=lambda index: str(index.name)):
                    digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
        if self.alembic_ini is not None:
            folder = script_location(self.alembic_ini)
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(folder)).encode())
                    digest.update(path.read_bytes())
        return digest.hexdigest()[:32]

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
        except Exception as exc:
            # SQLite and pymysql raise OperationalError for plain SQL errors too: only a lost
            # connection is the server's fault
            if isinstance(exc, OSError) or getattr(exc, "connection_invalidated", False):
                raise TestbedError(
                    UNREACHABLE.format(
                        url=render(self.url), source=self.source, error=first_line(exc)
                    )
                ) from exc
            how = "alembic upgrade head" if self.alembic_ini is not None else "metadata.create_all"
            setting = "alembic_ini" if self.alembic_ini is not None else "metadata"
            raise TestbedError(
                SCHEMA_FAILED.format(
                    url=render(self.url), how=how, error=first_line(exc), setting=setting
                )
            ) from exc

    def check_tables(self) -> None:
        """Stop when the built database lacks tables or columns the app's metadata declares."""
        metadata = self.metadata
        if metadata is None:
            return

        def found(connection: Connection) -> dict[str, set[str]]:
            columns = inspect(connection).get_multi_columns()
            return {table: {c["name"] for c in listed} for (_, table), listed in columns.items()}

        tables = run_sync(self.engine, self.loop, found)
        missing = [table.name for table in metadata.sorted_tables if table.name not in tables]
        missing += [
            f"{table.name}.{column.name}"
            for table in metadata.sorted_tables
            if table.name in tables
            for column in table.columns
            if column.name not in tables[table.name]
        ]
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
        # A daemon: Ctrl-C during a migration ends the run without waiting for it.
        worker = threading.Thread(target=upgrade, name="fastapi-testbed-alembic", daemon=True)
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

    def has_rows(self) -> bool:
        """Whether any table (alembic_version aside) holds a row."""

        def any_rows(connection: Connection) -> bool:
            quote = connection.dialect.identifier_preparer.quote
            return any(
                connection.exec_driver_sql(f"SELECT 1 FROM {quote(name)} LIMIT 1").first()
                for name in self.table_names(connection)
            )

        return bool(run_sync(self.engine, self.loop, any_rows))

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
