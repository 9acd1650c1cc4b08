"""Data that outlives a test: the rows a wider fixture, the seed or a migration wrote.

A session-, package-, module- or class-scoped fixture sets up inside a
:class:`~fastapi_testbed.binding.Level`: the app's engines hand out their own pooled
connections, so what it writes is committed, and every test of its scope sees it from inside
the test's own rolled-back transaction. :class:`Images` keeps, per test database, the rows every
test starts with (what the schema's build left, plus what each live level wrote, read back from
the database), so that

- when a level ends, exactly what it changed is taken back out (and its rows are gone);
- after a truncate test empties every table, those rows are put back, ids and all.

Nothing here imports pytest::

    images = Images()
    images.capture(database)            # before the first real commit
    ...                                 # a fixture writes, committed
    change = images.of(database).settle()
    ...                                 # tests
    images.of(database).revert(change)  # the fixture ends: its rows go
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from sqlalchemy import MetaData, Table, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy import inspect as inspect_db
from sqlalchemy.engine import Connection

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.engines import AnyEngine, create_test_engine, dispose, run_sync
from fastapi_testbed.urls import check_test_database

__all__ = ["Change", "DatabaseImage", "Images", "TestbedData", "run_seed"]

T = TypeVar("T")
Key = tuple[Any, ...]
Row = tuple[Any, ...]
Rows = dict[str, dict[Key, Row]]  # table -> primary key (or the whole row) -> the row
Change = dict[str, dict[Key, tuple[Row | None, Row | None]]]  # table -> key -> (before, after)
SKIPPED_TABLES = frozenset({"alembic_version"})
LOCK_WAIT_SECONDS = 10  # a lock held by a session left open fails the restore, never hangs it


def _key(values: Iterable[Any]) -> Key:
    values = tuple(values)
    try:
        hash(values)
    except TypeError:  # JSON in a table without a primary key
        return tuple(repr(value) for value in values)
    return values


class DatabaseImage:
    """The rows one test database holds at the start of every test; see the module docstring."""

    def __init__(self, database: Any, loop: Callable[[], LoopThread]) -> None:
        self.database = database
        self._loop = loop
        self.rows: Rows | None = None  # None until captured
        self._engine: AnyEngine | None = None
        self._tables: dict[str, Table] = {}
        self._lock = threading.RLock()

    # --- the plugin's own connection to the database ---------------------------------------------
    def _loop_if_async(self) -> LoopThread:
        # its own loop: the app's checkouts that call capture() may run on the plugin's loop;
        # a sync engine needs none
        return self._loop() if self.database.is_async else cast(LoopThread, None)

    def _run(self, work: Callable[[Connection], T]) -> T:
        if self._engine is None:
            self._engine = create_test_engine(
                self.database.url, is_async=self.database.is_async, loop=self._loop_if_async()
            )
        return run_sync(self._engine, self._loop_if_async(), work)

    def close(self) -> None:
        if self._engine is not None:
            dispose(self._engine, self._loop_if_async())
            self._engine = None

    def _sorted_tables(self, connection: Connection) -> list[Table]:
        """The database's tables, parents first (reflected again when the set changes)."""
        names = set(inspect_db(connection).get_table_names()) - SKIPPED_TABLES
        if names != set(self._tables):
            metadata = MetaData()
            metadata.reflect(connection, only=sorted(names))
            self._tables = {table.name: table for table in metadata.sorted_tables}
        return list(self._tables.values())

    def _read(self, connection: Connection) -> Rows:
        rows: Rows = {}
        for table in self._sorted_tables(connection):
            key_columns = list(table.primary_key.columns)
            positions = [list(table.columns).index(column) for column in key_columns]
            found: dict[Key, Row] = {}
            for row in connection.execute(select(table).order_by(*key_columns)):
                values = tuple(row)
                key = _key(values[i] for i in positions) if positions else _key(values)
                found[key] = values
            rows[table.name] = found
        return rows

    # --- what levels and truncate tests call ------------------------------------------------------
    def capture(self) -> None:
        """Read the rows the database holds now, once: what every test starts with."""
        if self.rows is not None:
            return
        with self._lock:
            if self.rows is None:
                self.rows = self._run(self._read)

    def settle(self) -> Change:
        """What changed since the rows were last read (a level's setup wrote it); kept."""
        with self._lock:
            self.capture()
            assert self.rows is not None
            now = self._run(self._read)
            change = _difference(self.rows, now)
            self.rows = now
            return change

    def revert(self, change: Change) -> None:
        """Take ``change`` back out of the rows and of the database (the level ended)."""
        with self._lock:
            assert self.rows is not None
            for table, keys in change.items():
                rows = self.rows.setdefault(table, {})
                for key, (before, after) in keys.items():
                    if rows.get(key) != after:
                        continue  # changed again since, by a later level: left as it is
                    if before is None:
                        rows.pop(key, None)
                    else:
                        rows[key] = before
            self.restore()

    def restore(self) -> None:
        """Make the database hold exactly the rows (after a truncate test, after a level)."""
        with self._lock:
            if self.rows is None:
                return
            target = self.rows
            check_test_database(
                self.database.url, "restore rows of", app_urls=self.database.app_urls
            )

            def work(connection: Connection) -> None:
                tables = self._sorted_tables(connection)
                _apply(connection, tables, self._read(connection), target)

            self._run(work)

    def refill(self) -> None:
        """After emptying: put back the rows, if there are any to put back."""
        if self.rows is not None and any(self.rows.values()):
            self.restore()


def _difference(before: Rows, after: Rows) -> Change:
    change: Change = {}
    for table in set(before) | set(after):
        old, new = before.get(table, {}), after.get(table, {})
        differing = {
            key: (old.get(key), new.get(key))
            for key in set(old) | set(new)
            if old.get(key) != new.get(key)
        }
        if differing:
            change[table] = differing
    return change


def _apply(connection: Connection, tables: list[Table], current: Rows, target: Rows) -> None:
    """Delete, update and insert rows until ``current`` is ``target`` (children deleted first)."""
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
    elif backend in {"mysql", "mariadb"}:
        connection.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    elif backend == "sqlite":
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    try:
        for table in reversed(tables):
            have, want = current.get(table.name, {}), target.get(table.name, {})
            gone = [row for key, row in have.items() if key not in want]
            _delete(connection, table, gone)
        for table in tables:
            have, want = current.get(table.name, {}), target.get(table.name, {})
            changed = [row for key, row in want.items() if key in have and have[key] != row]
            _update(connection, table, changed)
            added = [row for key, row in want.items() if key not in have]
            _insert(connection, table, added)
    finally:
        if backend in {"mysql", "mariadb"}:
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def _where_key(table: Table) -> tuple[list[Any], Any]:
    columns = list(table.primary_key.columns)
    condition = and_(*(column == bindparam(f"key_{i}") for i, column in enumerate(columns)))
    return columns, condition


def _key_params(table: Table, row: Row) -> dict[str, Any]:
    names = [column.name for column in table.columns]
    return {
        f"key_{i}": row[names.index(column.name)]
        for i, column in enumerate(table.primary_key.columns)
    }


def _delete(connection: Connection, table: Table, rows: list[Row]) -> None:
    if not rows:
        return
    if table.primary_key.columns:
        _, condition = _where_key(table)
        connection.execute(delete(table).where(condition), [_key_params(table, r) for r in rows])
        return
    for row in rows:  # no primary key: the whole row names it
        conditions = [
            column.is_(None) if value is None else column == value
            for column, value in zip(table.columns, row, strict=True)
        ]
        connection.execute(delete(table).where(*conditions))


def _update(connection: Connection, table: Table, rows: list[Row]) -> None:
    if not rows:
        return
    _, condition = _where_key(table)
    keys = {column.name for column in table.primary_key.columns}
    for row in rows:
        values = {
            column.name: value
            for column, value in zip(table.columns, row, strict=True)
            if column.name not in keys and column.computed is None
        }
        if values:
            connection.execute(
                update(table).where(condition).values(values), _key_params(table, row)
            )


def _insert(connection: Connection, table: Table, rows: list[Row]) -> None:
    if not rows:
        return
    written = [i for i, column in enumerate(table.columns) if column.computed is None]
    columns = [list(table.columns)[i] for i in written]  # generated ones: the server's again
    names = [column.name for column in columns]
    always = [
        column
        for column in columns
        if getattr(column, "identity", None) is not None and column.identity.always  # type: ignore[union-attr]
    ]
    if always and connection.dialect.name == "postgresql":
        # GENERATED ALWAYS AS IDENTITY takes an explicit id only when told to
        quote = connection.dialect.identifier_preparer.quote
        binds = [bindparam(f"c{n}", type_=column.type) for n, column in enumerate(columns)]
        statement = text(
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
            f"OVERRIDING SYSTEM VALUE VALUES ({', '.join(f':c{n}' for n in range(len(names)))})"
        ).bindparams(*binds)
        params = [{f"c{n}": row[i] for n, i in enumerate(written)} for row in rows]
        connection.execute(statement, params)
    else:
        params = [{name: row[i] for name, i in zip(names, written, strict=True)} for row in rows]
        connection.execute(insert(table), params)
    if connection.dialect.name == "postgresql":
        _advance_sequences(connection, table)


def _advance_sequences(connection: Connection, table: Table) -> None:
    """Rows put back with their ids: the id sequences move past them (TRUNCATE reset them)."""
    quoted = connection.dialect.identifier_preparer.quote(table.name)
    for column in table.primary_key.columns:
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": quoted, "column": column.name},
        ).scalar()
        if sequence is None:
            continue
        top = connection.execute(select(func.max(column))).scalar()
        if top is None:
            continue
        connection.execute(
            text(
                "SELECT setval(CAST(:sequence AS regclass), GREATEST(:top, "
                "COALESCE(pg_sequence_last_value(CAST(:sequence AS regclass)), 0)))"
            ),
            {"sequence": sequence, "top": top},
        )


class Images:
    """The :class:`DatabaseImage` of each test database, and the loop their async engines use."""

    def __init__(self) -> None:
        self._images: dict[Any, DatabaseImage] = {}
        self._loop: LoopThread | None = None
        self._lock = threading.Lock()

    def loop(self) -> LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def of(self, database: Any) -> DatabaseImage:
        image = self._images.get(database)
        if image is None:
            image = self._images.setdefault(database, DatabaseImage(database, self.loop))
        return image

    def capture(self, database: Any) -> None:
        """Read ``database``'s rows before its first real commit (once)."""
        self.of(database).capture()

    def close(self) -> None:
        """Close the images' connections and their loop (before the databases are dropped)."""
        for image in self._images.values():
            image.close()
        self._images.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None


# --- the API of wider fixtures: testbed_data ------------------------------------------------------
class _SessionBlock:
    """``with data.session() as session`` (or ``async with``): committed when the block ends."""

    def __init__(self, data: TestbedData) -> None:
        self._data = data
        self._session: Any = None
        self._factories: Any = None

    def _open(self) -> Any:
        from fastapi_testbed.fakes.factories import FactorySessions

        session = self._data.runtime.session_factory()
        # its objects stay readable in the tests, long after this session is closed
        getattr(session, "sync_session", session).expire_on_commit = False
        self._factories = FactorySessions(session, run=self._data.run).__enter__()
        self._session = session
        return session

    def _close(self, commit: Callable[[], Any], close: Callable[[], Any], ok: bool) -> None:
        try:
            if ok:
                commit()
        finally:
            try:
                close()
            finally:
                self._factories.__exit__(None, None, None)

    def __enter__(self) -> Any:
        return self._open()

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        session, run = self._session, self._data.run
        if hasattr(session, "sync_session"):  # an AsyncSession, from sync code
            self._close(
                lambda: run(session.commit()), lambda: run(session.close()), exc_type is None
            )
        else:
            self._close(session.commit, session.close, exc_type is None)

    async def __aenter__(self) -> Any:
        return self._open()

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        session = self._session
        if not hasattr(session, "sync_session"):
            self.__exit__(exc_type)
            return
        try:
            if exc_type is None:
                await session.commit()
        finally:
            try:
                await session.close()
            finally:
                self._factories.__exit__(None, None, None)


class TestbedData:
    """What a fixture wider than one test uses to write rows that all the tests of its scope
    see (the ``testbed_data`` fixture). Rows written in the fixture's setup are committed, and
    removed when the fixture's scope ends; each test's own writes are still rolled back::

        @pytest.fixture(scope="module")
        async def admin(testbed_data):
            async with testbed_data.session() as session:   # committed at the block's end
                user = User(email="admin@example.com", is_admin=True)
                session.add(user)
            return user

        @pytest.fixture(scope="module")
        async def admin_token(testbed_data, admin):
            async with testbed_data.client() as client:     # the app, its lifespan run
                response = await client.post("/token", data={"username": admin.email, ...})
            return response.json()["access_token"]
    """

    __test__ = False

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    @property
    def app(self) -> Any:
        return self.runtime.app

    @property
    def engine(self) -> AnyEngine:
        """The app's main engine."""
        return self.runtime.engine  # type: ignore[no-any-return]

    def run(self, awaitable: Any) -> Any:
        """Run ``awaitable`` to completion from sync code."""
        return self.runtime.loop.run(awaitable)

    def session(self) -> _SessionBlock:
        """A session of the app's own kind on its main engine, for ``with`` or ``async with``:
        committed at the block's end, its objects readable after; factories use it inside."""
        return _SessionBlock(self)

    @contextlib.asynccontextmanager
    async def client(self, headers: dict[str, str] | None = None) -> AsyncIterator[Any]:
        """An AsyncClient for the app ([tool.testbed] base_url and headers, then ``headers``),
        the app's lifespan run for the block."""
        from fastapi_testbed.client import make_async_client

        settings = self.runtime.settings
        http, transport = make_async_client(
            self.app, base_url=settings.base_url, headers={**settings.headers, **(headers or {})}
        )
        try:
            async with http:
                yield http
        finally:
            await transport.stop()

    @contextlib.contextmanager
    def sync_client(self, headers: dict[str, str] | None = None) -> Iterator[Any]:
        """Starlette's TestClient for the app, its lifespan run for the block."""
        from fastapi_testbed.client import make_sync_client

        settings = self.runtime.settings
        http = make_sync_client(
            self.app, base_url=settings.base_url, headers={**settings.headers, **(headers or {})}
        )
        with http:
            yield http


def run_seed(runtime: Any, seed: Callable[[Any], Any]) -> None:
    """Call the seed with a session of the app's main engine and commit what it added."""
    import inspect

    data = TestbedData(runtime)
    with data.session() as session:
        result = seed(session)
        if inspect.isawaitable(result):
            data.run(result)
