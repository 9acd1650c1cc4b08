"""Create the test database, build its schema once, drop it at the end (a "janitor").

Used as a context manager, with no pytest in sight::

    with TestDatabase(url, engine=engine, loop=loop, metadata=Base.metadata) as database:
        ...
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, MetaData, inspect, text
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
from fastapi_testbed.ownership import Claim, Folder, Marker, Server, wait_lock
from fastapi_testbed.urls import check_test_database, render, script_location

__all__ = ["TestDatabase", "empty_tables"]


REBUILT = "testbed: {name}: {why}; rebuilt it"
EMPTIED = "testbed: {name}: a truncate test of a killed run left rows behind; emptied it"
REUSED = "testbed: {name}: reused, its schema unchanged"
NOT_COPIED = "testbed: {name}: not copied from the template {template} ({why}); built it"
NOT_SHARED = (
    "testbed: {name}: the schema could not be copied here ({why}); each worker builds its own"
)
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
        template: Callable[[Claim], tuple[Server | Folder, str]] | None = None,
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
        self._template_home = template  # under xdist: where the workers' template lives
        self.template: tuple[Server | Folder, str] | None = None  # the one this run used
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
        template = self._template_name(fingerprint)
        if template is None:
            self._build(fingerprint)
        else:
            self._build_through(template, fingerprint)
        self.ready = True

    def _build(self, fingerprint: str) -> None:
        """Create the database and build its schema: create_all or the migrations."""
        server, name = self.claim.server, self.claim.name
        server.create(name, self.marker)  # marked before anything else happens to it
        self.created = True
        self.build_schema()
        self.check_tables()
        self._built(fingerprint, seeded=self.has_rows() if self.reuse else False)

    def _built(self, fingerprint: str, *, seeded: bool) -> None:
        self.marker.built, self.marker.fingerprint = True, fingerprint
        self.marker.seeded = seeded  # whether emptying it later would lose rows of the build
        self.claim.server.mark(self.claim.name, self.marker)

    # --- the template of an xdist run -----------------------------------------------------------
    def _template_name(self, fingerprint: str) -> tuple[Server | Folder, str] | None:
        """Under xdist: the template this database is copied from (None: build it alone).

        Its name carries the schema's fingerprint, so runs of other models or migrations
        never share one, and a stale one is never mistaken for the current.
        """
        if self._template_home is None or self.recreate:
            return None
        home, stem = self._template_home(self.claim)
        name = f"{stem}_{fingerprint[:10]}"
        if len(name) > 63 or not name.startswith("test_"):  # the servers' longest name
            return None
        return home, name

    def _build_through(self, template: tuple[Server | Folder, str], fingerprint: str) -> None:
        """Copy the schema from the run's template; the first worker builds it, once.

        The template's lock is held while it is looked at, built or copied: the other
        workers wait for the first one's build, then copy, instead of migrating again.
        """
        home, name = self.template = template
        wait_lock(home, name)
        try:
            existed, found = home.lookup(name)
            if not existed:
                self.sweep_templates(home, name)
                self._build(fingerprint)
                self._publish(home, name)
                return
            if (
                found is not None
                and found.template
                and found.built
                and found.fingerprint == fingerprint
            ):
                why = self._copy_from(name, found)
                if why is None:
                    return
                self.report(NOT_COPIED.format(name=self.claim.name, template=name, why=why))
        finally:
            home.unlock(name)
        # A database the plugin did not make (never touched), or a template the schema could
        # not be copied to or from: each worker builds its own, none waiting for another.
        self._build(fingerprint)

    def sweep_templates(self, home: Server | Folder, current: str) -> None:
        """Drop the templates of this database built for another schema (when unused)."""
        stem = current.rpartition("_")[0] + "_"
        for name, marker in home.names_like(stem):
            if name == current or marker is None or not marker.template:
                continue
            if home.try_lock(name):
                try:
                    check_test_database(self._template_url(home, name), "drop")
                    drop_template(home, name)
                finally:
                    home.unlock(name)

    def _template_url(self, home: Server | Folder, name: str) -> URL:
        if isinstance(home, Folder):
            return self.url.set(database=str(home.database(name)))
        return self.url.set(database=name)

    def _copy_from(self, template: str, found: Marker) -> str | None:
        """Create this database as a copy of ``template``; why not, if it could not be."""
        server, name = self.claim.server, self.claim.name
        home = self.template[0] if self.template else server
        try:
            if isinstance(server, Folder):
                assert isinstance(home, Folder)
                server.create(name, self.marker)  # marked first, as a server's database is
                self.created = True
                copy_file(home.database(template), server.database(name))
            elif server.backend == "postgresql":
                server.clone(template, name, self.marker)
                self.created = True
            else:
                server.create(name, self.marker)
                self.created = True
                why = run_sync(self.engine, self.loop, lambda c: copy_tables(c, template))
                if why is not None:
                    raise TestbedError(why)
            self.check_tables()
        except Exception as exc:
            if self.created:
                self._discard()
            return first_line(exc)
        self._built(found.fingerprint, seeded=found.seeded)
        return None

    def _discard(self) -> None:
        """Drop this database (a failed copy) so that it can be built afresh."""
        if self._engine is not None:
            dispose(self._engine, self.loop)
            self._engine = None
        self.claim.server.drop(self.claim.name)
        self.created = False

    def _publish(self, home: Server | Folder, template: str) -> None:
        """Copy the database just built to the template the other workers copy from.

        When it cannot be copied, the template is left empty, marked so that each worker
        builds its own instead of waiting for it: the copy saves time, it never stops a run.
        """
        marker = Marker(
            keep=self.reuse,
            template=True,
            fingerprint=self.marker.fingerprint,
            seeded=self.marker.seeded or (not self.reuse and self.has_rows()),
        )
        check_test_database(self._template_url(home, template), "create")
        try:
            why = self._copy_to(home, template, marker)
        except Exception as exc:
            why = first_line(exc)
        if why is None:
            return
        self.report(NOT_SHARED.format(name=template, why=why))
        with contextlib.suppress(Exception):
            home.drop(template)
        marker.built = False
        home.create(template, marker)

    def _copy_to(self, home: Server | Folder, template: str, marker: Marker) -> str | None:
        """Create ``template`` as a copy of this database; why not, if it cannot be."""
        name = self.claim.name
        if isinstance(home, Folder):
            assert isinstance(self.claim.server, Folder)
            home.create(template, marker)  # built: false until the file is copied
            copy_file(self.claim.server.database(name), home.database(template))
            marker.built = True
            home.mark(template, marker)
            return None
        if home.backend == "postgresql":
            if self._engine is not None:
                dispose(self._engine, self.loop)
                self._engine = None
            # PostgreSQL copies no database someone is connected to: an env.py that migrated
            # through the app's pooled engine leaves its connection open
            others = home.sessions_on(name)
            if others:
                return f"the build left {others} connection(s) to {name} open"
            marker.built = True
            home.clone(name, template, marker)
            return None
        home.create(template, marker)  # built: false until every table is copied
        engine = create_test_engine(
            self._template_url(home, template), is_async=self.is_async, loop=self.loop
        )
        try:
            why = run_sync(engine, self.loop, lambda c: copy_tables(c, name))
        finally:
            dispose(engine, self.loop)
        if why is None:
            marker.built = True
            home.mark(template, marker)
        return why

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
            self._drop_template()
        elif self.marker.dirty:
            self.marker.dirty = False  # every truncate test emptied the tables after itself
            self.claim.server.mark(self.claim.name, self.marker)

    def _drop_template(self) -> None:
        """Drop the run's template, unless another worker is copying from it right now."""
        if self.template is None:
            return
        home, name = self.template
        self.template = None
        if not home.try_lock(name):
            return  # a worker of this run, or of another, copies from it: the last one drops it
        try:
            existed, found = home.lookup(name)
            if found is not None and found.template and not found.keep:
                check_test_database(self._template_url(home, name), "drop")
                drop_template(home, name)
            elif not existed and found is None and isinstance(home, Folder):
                home.drop(name, marker=True)  # another worker dropped it: the lock file we made
        finally:
            home.unlock(name)

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


def drop_template(home: Server | Folder, name: str) -> None:
    """Drop a template whose lock the caller holds (a SQLite one's marker file with it)."""
    if isinstance(home, Folder):
        home.drop(name, marker=True)
    else:
        home.drop(name)


def copy_file(source: Path, target: Path) -> None:
    """Copy a SQLite database with SQLite's backup API (consistent, whatever its journal)."""
    import sqlite3

    with (
        contextlib.closing(sqlite3.connect(source)) as origin,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        origin.backup(copy)


def copy_tables(connection: Connection, source: str) -> str | None:
    """MariaDB: copy the tables of database ``source``, rows included, into the connection's.

    Only a schema of plain tables is copied: views, triggers, routines, sequences and events
    name their database inside their definitions. Returns why it did not copy, or None.
    """
    literal = {"source": source}
    kinds = connection.execute(
        text(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = :source"
        ),
        literal,
    ).all()
    others = [str(name) for name, kind in kinds if kind != "BASE TABLE"]
    for kind in ("trigger", "routine", "event"):
        query = f"SELECT {kind}_name FROM information_schema.{kind}s WHERE {kind}_schema = :source"
        others += [str(row[0]) for row in connection.execute(text(query), literal)]
    if others:
        return f"it holds more than tables: {', '.join(sorted(others))}"
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for table, _ in kinds:
            create = connection.exec_driver_sql(
                f"SHOW CREATE TABLE {quote(source)}.{quote(table)}"
            ).one()[1]
            connection.exec_driver_sql(create.replace("%", "%%"))
            columns = [
                quote(str(row[0]))
                for row in connection.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = :source AND table_name = :table "
                        "AND is_generated = 'NEVER' ORDER BY ordinal_position"
                    ),
                    {"source": source, "table": table},
                )
            ]
            listed = ", ".join(columns)
            connection.exec_driver_sql(
                f"INSERT INTO {quote(table)} ({listed}) "
                f"SELECT {listed} FROM {quote(source)}.{quote(table)}"
            )
    finally:
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    return None
