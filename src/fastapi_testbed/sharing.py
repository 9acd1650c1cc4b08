"""Inside a test, every connection a test engine hands out is the test's one connection.

The test's connection holds one transaction, rolled back when the test ends. Each engine of the
app checks out, instead of a pooled connection of its own, a proxy to that one DBAPI connection
(a :class:`~sqlalchemy.pool.StaticPool` over it), and the app's transactions on it become
savepoints: ``begin`` is ``SAVEPOINT``, ``commit`` is ``RELEASE SAVEPOINT``, ``rollback`` is
``ROLLBACK TO SAVEPOINT``. That happens in the dialect, the one place every path goes through:
sessions from any sessionmaker, ``Session(engine)``, ``engine.begin()``, ``engine.connect()``
and ``commit()``, Core statements, sync and async alike.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import StaticPool

from fastapi_testbed.errors import CONCURRENT_USE, TestbedError

if TYPE_CHECKING:
    from fastapi_testbed.binding import Group

__all__ = ["SharedConnection", "install_dialect_overrides", "shared_of"]

_SHARED: dict[int, SharedConnection] = {}  # id(DBAPI connection) -> the test's connection
SAVEPOINT_KEY = "_testbed_savepoint"
WROTE_KEY = "_testbed_wrote"  # a statement other than a completed SELECT ran in the savepoint
# Where a failed statement leaves the transaction usable, a savepoint is sent only before the
# first statement of its transaction that is not a SELECT: a transaction that only read needs none
# (PostgreSQL aborts the whole transaction on any error, so there every savepoint is sent at once).
LAZY_SAVEPOINTS = frozenset({"mysql", "mariadb", "sqlite"})
# Elsewhere (PostgreSQL) an app transaction that ends leaves its savepoint set, at most this many
# (PostgreSQL caches 64 subtransactions per transaction): a commit sends no RELEASE, a rollback
# only ROLLBACK TO, and the next transaction reuses the savepoint when nothing was written since.
KEEP_AT_MOST = 32
# asyncpg takes a script without arguments in one round trip (PostgreSQL's simple query protocol):
# there the plugin says BEGIN and ROLLBACK itself, so a test's end also begins the next test's
# transaction and first savepoint (ROLLBACK; BEGIN; SAVEPOINT tb_1), with the driver's adapter in
# autocommit meanwhile, so that it begins nothing of its own.
BEGUN_KEY = "_testbed_begun"  # in the pooled connection's info: that script ran, BEGIN holds
ISOLATION_KEY = "_testbed_isolation"  # the adapter's own isolation level, restored on release
WRITE_SQL = re.compile(r"^\s*(?:UPDATE|DELETE\s+FROM)\s+[\"`\[]?(\w+)", re.IGNORECASE)


def _dbapi(connection: Any) -> Any:
    return getattr(connection, "dbapi_connection", connection)


def shared_of(connection: Any) -> SharedConnection | None:
    """The test connection behind a pooled (or raw) DBAPI connection, if it is one."""
    return _SHARED.get(id(_dbapi(connection)))


def execute(connection: Any, statement: str) -> None:
    """Run one statement on a DBAPI connection (sync facade: async drivers need a greenlet)."""
    cursor = _dbapi(connection).cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


class SharedConnection:
    """One test's connection to one test database, for every engine of one group."""

    def __init__(self, group: Group, owner: Any, engine: Engine) -> None:
        self.group = group
        self.owner = owner  # the pooled connection this borrows, from the real pool
        self.engine = engine
        self.owner_pool = engine.pool
        self.raw = owner.dbapi_connection
        self.open: list[str] = []
        self.lazy = group.dialect.name in LAZY_SAVEPOINTS
        self.unsent: set[str] = set()  # open savepoints not yet sent (lazy: nothing written yet)
        self.kept = 0  # not lazy: top-level savepoints (tb_1) still set on the server
        self.clean = False  # the newest of them, with only SELECTs run since it was set
        self.failed = False  # a statement failed since: on PostgreSQL the transaction is aborted
        self.script = _script_of(self.raw)
        self.begun = False  # the plugin's own BEGIN holds (scripted connections only)
        if self.script is not None:
            info = owner.info
            if info.get(BEGUN_KEY):  # the last test's end began this one's transaction
                self.begun, self.kept, self.clean = True, 1, True
            else:
                info.setdefault(ISOLATION_KEY, self.raw.isolation_level)
                self.raw.isolation_level = "autocommit"
            # the app's engine's isolation level, which the adapter would have begun with
            self.begin_sql = _begin_sql(info.get(ISOLATION_KEY))
        self.written: set[str] = set()  # tables the app updated or deleted from
        self.invalidated = False
        self.closing = False  # the test is over: savepoints end with the final rollback
        self.pool = _SharedPool(lambda: self.raw, dialect=group.dialect)
        self.pool.shared = self
        _SHARED[id(self.raw)] = self

    def checkout(self) -> Any:
        return self.pool.connect()

    # --- the app's transactions, as savepoints ---------------------------------------------
    def begin(self, fairy: Any) -> None:
        # named by depth: the same few names recur, so drivers that prepare statements
        # (asyncpg) find them in their cache instead of preparing a new one every time
        name = f"tb_{len(self.open) + 1}"
        if self.closing:  # a session opened in the test's teardown: the final rollback ends it
            setattr(fairy, SAVEPOINT_KEY, None)
            return
        # listed before the statement runs: a concurrent end() of an outer savepoint, while this
        # one is on its way to the server, must see it (else its RELEASE silently takes this one)
        self.open.append(name)
        if self.lazy:
            self.unsent.add(name)
        elif name == "tb_1" and self.clean:
            pass  # the savepoint an earlier transaction left, with nothing written since
        elif self.script is not None and not self.begun:
            try:
                self.script(f"{self.begin_sql}; SAVEPOINT tb_1")  # the test's transaction
            except BaseException:
                self.open.remove(name)
                raise
            self.begun = self.owner.info[BEGUN_KEY] = True
            self.kept, self.clean = 1, True
        else:
            try:
                if name == "tb_1" and self.kept >= KEEP_AT_MOST:
                    execute(fairy, "RELEASE SAVEPOINT tb_1")  # the newest kept one
                    self.kept -= 1
                execute(fairy, f"SAVEPOINT {name}")
            except BaseException:
                if name in self.open:
                    self.open.remove(name)
                raise
            self.kept += name == "tb_1"
            self.clean = name == "tb_1"
        setattr(fairy, SAVEPOINT_KEY, name)
        setattr(fairy, WROTE_KEY, False)

    def end(self, fairy: Any, *, commit: bool) -> None:
        name = getattr(fairy, SAVEPOINT_KEY, None)
        if name is None:
            return  # no transaction of this checkout is open: a pool reset, or already ended
        setattr(fairy, SAVEPOINT_KEY, None)
        if name not in self.open:
            return  # an enclosing savepoint ended first and took this one with it
        index = self.open.index(name)
        inner = self.open[index + 1 :]
        del self.open[index:]
        unsent = name in self.unsent
        if self.unsent:
            self.unsent.difference_update((name, *inner))
        if inner and not self.closing:
            raise TestbedError(CONCURRENT_USE.format(name=name, inner=inner[-1]))
        if self.closing or unsent:
            return  # the test's final rollback undoes it, or it only read: no statement
        # A savepoint that only read is released, not rolled back: a rollback would also undo
        # what others released inside it meanwhile (a background task's commit while the
        # request's session, which only refreshed, is still open).
        rollback = not commit and getattr(fairy, WROTE_KEY, True)
        if rollback:
            execute(fairy, f"ROLLBACK TO SAVEPOINT {name}")
            self.failed = False
        if name == "tb_1" and not self.lazy and not (commit and self.failed):
            # kept for the next transaction (a commit after a failure releases it, and
            # PostgreSQL says the transaction is aborted, as it would to the app's COMMIT)
            self.clean = self.clean or rollback
            return
        execute(fairy, f"RELEASE SAVEPOINT {name}")
        if name == "tb_1":
            self.kept -= 1
            self.clean = False

    def send_savepoints(self, fairy: Any) -> None:
        """Before a statement that may write: send the open savepoints not sent yet, in order."""
        for name in [name for name in self.open if name in self.unsent]:
            execute(fairy, f"SAVEPOINT {name}")
            self.unsent.discard(name)

    # --- the end of the test ----------------------------------------------------------------
    def close(self) -> None:
        """Roll the test's transaction back and give the connection back to its pool."""
        _SHARED.pop(id(self.raw), None)
        self.open.clear()
        self.unsent.clear()
        self.kept, self.clean, self.failed = 0, False, False
        dialect = self.group.dialect
        if self.invalidated or self.engine.pool is not self.owner_pool:
            # a cancelled or broken statement, or the app disposed the engine meanwhile (a
            # lifespan's shutdown): close it rather than give it to a pool nobody uses
            self.owner.invalidate()
            return
        try:
            if self.script is None:
                type(dialect).do_rollback(dialect, self.raw)
            elif self.begun:
                self.owner.info[BEGUN_KEY] = False
                self.script(f"ROLLBACK; {self.begin_sql}; SAVEPOINT tb_1")  # the next test's
                self.owner.info[BEGUN_KEY] = True
        except Exception:
            self.owner.invalidate()
            raise
        # kept checked out for the next test: no pool return, no reset ROLLBACK, no checkout
        self.group.keep_idle(self.owner, self.owner_pool, self.engine)


def _script_of(raw: Any) -> Callable[[str], None] | None:
    """How to send a script (several statements, no arguments) in one round trip on ``raw``,
    where the plugin does so: SQLAlchemy's asyncpg adapter. (psycopg could too; MariaDB's
    drivers connect without multi-statements.)"""
    asyncpg = sys.modules.get("sqlalchemy.dialects.postgresql.asyncpg")
    adapter = getattr(asyncpg, "AsyncAdapt_asyncpg_connection", None)
    if adapter is None or type(raw) is not adapter:
        return None
    from sqlalchemy.util import await_only

    driver = raw._connection

    def script(statements: str) -> None:
        await_only(driver.execute(statements))

    return script


def _begin_sql(level: str | None) -> str:
    """BEGIN with an asyncpg adapter's isolation level ("repeatable_read"; None: the server's)."""
    if level is None or level == "autocommit":
        return "BEGIN"
    return "BEGIN ISOLATION LEVEL " + level.replace("_", " ").upper()


def end_plugin_transaction(owner: Any) -> None:
    """Before a kept connection goes back to its pool: roll back the transaction the plugin
    began on it, if any, and give its adapter its own isolation level again (in a greenlet)."""
    info = owner.info
    begun = info.pop(BEGUN_KEY, False)
    held = ISOLATION_KEY in info  # a test's connection held it (not a fresh checkout)
    isolation = info.pop(ISOLATION_KEY, None)
    raw = owner.dbapi_connection
    if raw is None:
        return
    script = _script_of(raw)
    if script is None:
        return
    if begun:
        script("ROLLBACK")
    if held:
        raw.isolation_level = isolation


class _SharedPool(StaticPool):
    """Hands out the test's connection; what would close it only marks it for the test's end."""

    shared: SharedConnection

    def _close_connection(self, connection: Any, *, terminate: bool = False) -> None:
        self.shared.invalidated = True


def install_dialect_overrides(engine: Engine, *, begin_statement: Callable[[], str | None]) -> None:
    """Make ``engine``'s transactions savepoints on a test connection (and nowhere else).

    ``begin_statement`` gives the statement that opens a transaction elsewhere (SQLite's
    ``BEGIN``, since its drivers begin lazily and break SAVEPOINT), or None for the driver's own.
    """
    dialect: Dialect = engine.dialect
    cls = type(dialect)

    def do_begin(connection: Any) -> None:
        shared = shared_of(connection)
        if shared is not None:
            shared.begin(connection)
            return
        statement = begin_statement()
        if statement is not None:
            execute(connection, statement)
        else:
            cls.do_begin(dialect, connection)

    def do_commit(connection: Any) -> None:
        shared = shared_of(connection)
        if shared is not None:
            shared.end(connection, commit=True)
        else:
            cls.do_commit(dialect, connection)

    def do_rollback(connection: Any) -> None:
        shared = shared_of(connection)
        if shared is not None:
            shared.end(connection, commit=False)
        else:
            cls.do_rollback(dialect, connection)

    def set_isolation_level(dbapi_connection: Any, level: Any) -> None:
        if shared_of(dbapi_connection) is None:  # AUTOCOMMIT would end the test's transaction
            cls.set_isolation_level(dialect, dbapi_connection, level)

    def reset_isolation_level(dbapi_connection: Any) -> None:
        if shared_of(dbapi_connection) is None:
            cls.reset_isolation_level(dialect, dbapi_connection)

    overrides = {
        "do_begin": do_begin,
        "do_commit": do_commit,
        "do_rollback": do_rollback,
        "set_isolation_level": set_isolation_level,
        "reset_isolation_level": reset_isolation_level,
    }
    for name, function in overrides.items():
        setattr(dialect, name, function)


def before_statement(fairy: Any, statement: str) -> None:
    """Count a statement as a write until it completes as a SELECT; note UPDATE/DELETE tables."""
    shared = shared_of(fairy)
    if shared is None:
        return
    setattr(fairy, WROTE_KEY, True)
    if not _is_select(statement):
        shared.clean = False
        if shared.unsent:
            shared.send_savepoints(fairy)
    if statement[:1] in "UuDd":
        match = WRITE_SQL.match(statement)
        if match is not None:
            shared.written.add(match.group(1).lower())


def _is_select(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT"


def statement_failed(fairy: Any) -> None:
    shared = shared_of(fairy)
    if shared is not None:
        shared.failed = True


def after_statement(fairy: Any, statement: str, wrote_before: bool) -> None:
    if not wrote_before and _is_select(statement):
        setattr(fairy, WROTE_KEY, False)
