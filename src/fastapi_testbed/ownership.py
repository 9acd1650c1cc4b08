"""Which test databases a run owns: a marker on each one the plugin made, a lock on each it uses.

The plugin touches only databases it created. Each carries a marker (PostgreSQL: the database's
comment; MariaDB: the schema's comment; SQLite: a ``<file>.testbed`` file beside it) that says
so, and what built it. While a run uses a database it holds a lock on its name that the server
releases when the run's connection ends, however the run ends (PostgreSQL advisory locks,
MariaDB ``GET_LOCK``, ``flock`` for SQLite files). So:

- a second run at the same time finds the name locked and takes ``test_x_2``, ``test_x_3``...;
- a run killed with ``kill -9`` leaves a marked database whose lock is free: the next run drops
  it (or, under ``--reuse-db``, reuses it if its marker says the build finished);
- a database with the name but no marker belongs to someone else and is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.errors import (
    AUTH_FAILED,
    NO_FREE_NAME,
    SERVER_REFUSED,
    UNOWNED_DATABASE,
    UNREACHABLE,
    TestbedError,
    first_line,
)
from fastapi_testbed.urls import SETTING, family, identity, render

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite files are not locked there
    fcntl = None  # type: ignore[assignment]

__all__ = ["Claim", "Marker", "Ownership", "wait_lock"]

TOOL = "fastapi-testbed"
MAX_RUNS = 50  # test_x ... test_x_50: more concurrent runs than that is a leak, not a load


@dataclass
class Marker:
    """What the plugin writes on a database it made."""

    keep: bool = False  # made under --reuse-db: kept between runs
    built: bool = False  # the schema build finished
    fingerprint: str = ""  # of what built the schema (DDL, or migration files)
    dirty: bool = False  # a truncate test began and the run did not end cleanly after it
    seeded: bool = False  # the build left rows (migrations that insert): emptying loses them
    # an xdist run's template, the workers' databases copied from it (see database.py);
    # built False on one: the schema could not be copied, each worker builds its own
    template: bool = False

    def dumps(self) -> str:
        return json.dumps({"by": TOOL, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def loads(cls, value: str | None) -> Marker | None:
        """The marker in a comment or file, or None when the plugin did not write it."""
        if not value:
            return None
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.pop("by", None) != TOOL:
            return None
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass
class Claim:
    """A test database name this run holds, and what was found under it."""

    server: Server | Folder
    name: str
    existed: bool
    marker: Marker | None  # None: nothing there, or a database taken over with --create-db


_AUTH_CODES = {"28000", "28P01", "1044", "1045", "1698"}


def is_login_refused(exc: BaseException) -> bool:
    """Whether the server refused the user (a wrong password, a missing role or grant)."""
    cause = getattr(exc, "orig", None) or exc
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    args = getattr(cause, "args", ())
    if code is None and args and isinstance(args[0], int):
        code = args[0]
    if str(code) in _AUTH_CODES:
        return True
    message = str(cause).lower()
    return (
        "password authentication failed" in message
        or "access denied for user" in message
        or ("role " in message and "does not exist" in message)
    )


def server_error(exc: BaseException, *, url: URL, source: str, statement: str) -> TestbedError:
    """One message for an error of the server: the login, the connection, or a refusal."""
    if is_login_refused(exc):
        return TestbedError(
            AUTH_FAILED.format(
                url=render(url), source=source, error=first_line(exc), setting=SETTING
            )
        )
    if isinstance(exc, OSError | OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return TestbedError(
            UNREACHABLE.format(url=render(url), source=source, error=first_line(exc))
        )
    return TestbedError(
        SERVER_REFUSED.format(
            url=render(url), statement=statement, error=first_line(exc), setting=SETTING
        )
    )


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(f"{TOOL}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Server:
    """One database server, through one connection held for the whole run (its locks with it)."""

    def __init__(self, url: URL, *, is_async: bool, loop: Callable[[], LoopThread], source: str):
        self.url = url  # the maintenance database: postgres, or none on MariaDB
        self.is_async = is_async
        self._loop = loop
        self.source = source
        self.backend = family(url)
        self._engine: Any = None
        self._connection: Any = None
        self.held: set[str] = set()

    # --- the connection ------------------------------------------------------------------------
    def run(self, work: Callable[[Connection], Any], statement: str) -> Any:
        try:
            return self._run(work)
        except TestbedError:
            raise
        except (DBAPIError, OSError) as exc:
            if self._connection is not None and getattr(exc, "connection_invalidated", False):
                self._connection = None
            raise server_error(exc, url=self.url, source=self.source, statement=statement) from None

    def _run(self, work: Callable[[Connection], Any]) -> Any:
        from fastapi_testbed.engines import create_test_engine

        if self._engine is None:
            self._engine = create_test_engine(
                self.url,
                is_async=self.is_async,
                loop=self._loop(),
                isolation_level="AUTOCOMMIT",
                poolclass=NullPool,
            )
        if self.is_async:
            loop = self._loop()
            if self._connection is None:
                self._connection = loop.run(self._engine.connect())
            return loop.run(self._connection.run_sync(work))
        if self._connection is None:
            self._connection = self._engine.connect()
        return work(self._connection)

    def close(self) -> None:
        """Close the connection: the server releases every lock the run held."""
        connection, self._connection = self._connection, None
        engine, self._engine = self._engine, None
        self.held.clear()
        with contextlib.suppress(Exception):  # a connection the server closed already
            if connection is not None:
                if self.is_async:
                    self._loop().run(connection.close())
                else:
                    connection.close()
        with contextlib.suppress(Exception):
            if engine is not None:
                if self.is_async:
                    self._loop().run(engine.dispose())
                else:
                    engine.dispose()

    def _value(self, query: str, **params: Any) -> Any:
        return self.run(lambda c: c.execute(text(query), params).scalar(), query)

    def _execute(self, statement: str) -> None:
        self.run(lambda c: c.exec_driver_sql(statement), statement)

    def _quote(self, name: str) -> str:
        if self.backend == "postgresql":
            return '"' + name.replace('"', '""') + '"'
        return "`" + name.replace("`", "``") + "`"

    def _literal(self, value: str) -> str:
        if self.backend == "mysql":
            value = value.replace("\\", "\\\\")
        return "'" + value.replace("'", "''") + "'"

    # --- locks: held by this connection, released by the server when it ends ---------------------
    def try_lock(self, name: str) -> bool:
        if name in self.held:
            return True
        if self.backend == "postgresql":
            got = self._value("SELECT pg_try_advisory_lock(:key)", key=_lock_key(name))
        else:
            got = self._value("SELECT GET_LOCK(:key, 0)", key=f"{TOOL}:{_lock_key(name):x}")
        if got:
            self.held.add(name)
        return bool(got)

    def unlock(self, name: str) -> None:
        if name not in self.held:
            return
        self.held.discard(name)
        if self.backend == "postgresql":
            self._value("SELECT pg_advisory_unlock(:key)", key=_lock_key(name))
        else:
            self._value("SELECT RELEASE_LOCK(:key)", key=f"{TOOL}:{_lock_key(name):x}")

    # --- the catalog --------------------------------------------------------------------------
    def _catalog(self, where: str, **params: Any) -> list[tuple[str, str | None]]:
        if self.backend == "postgresql":
            query = (
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                f"WHERE {where.format(name='datname')}"
            )
        else:
            query = (
                "SELECT schema_name, schema_comment FROM information_schema.schemata "
                f"WHERE {where.format(name='schema_name')}"
            )
        rows = self.run(lambda c: c.execute(text(query), params).all(), query)
        return [(str(name), comment) for name, comment in rows]

    def lookup(self, name: str) -> tuple[bool, Marker | None]:
        """Whether ``name`` exists, and the plugin's marker on it."""
        rows = self._catalog("{name} = :name", name=name)
        return (True, Marker.loads(rows[0][1])) if rows else (False, None)

    def create(self, name: str, marker: Marker) -> None:
        if self.backend == "postgresql":
            self._execute(f"CREATE DATABASE {self._quote(name)}")
            self.mark(name, marker)
        else:
            self._execute(
                f"CREATE DATABASE {self._quote(name)} CHARACTER SET utf8mb4 "
                f"COMMENT {self._literal(marker.dumps())}"
            )

    def mark(self, name: str, marker: Marker) -> None:
        value = self._literal(marker.dumps())
        if self.backend == "postgresql":
            self._execute(f"COMMENT ON DATABASE {self._quote(name)} IS {value}")
        else:
            self._execute(f"ALTER DATABASE {self._quote(name)} COMMENT {value}")

    def drop(self, name: str) -> None:
        force = " WITH (FORCE)" if self.backend == "postgresql" else ""
        self._execute(f"DROP DATABASE IF EXISTS {self._quote(name)}{force}")

    def leftovers(self) -> list[str]:
        """Databases the plugin made for runs that ended without dropping them (killed)."""
        names = []
        for name, comment in self._catalog("{name} LIKE 'test\\_%'"):
            marker = Marker.loads(comment)
            if (
                marker is not None
                and not marker.keep
                and not marker.template  # its own sweep: see TestDatabase.sweep_templates
                and name not in self.held
            ):
                names.append(name)
        return names

    def names_like(self, prefix: str) -> list[tuple[str, Marker | None]]:
        """The databases whose names start with ``prefix``, with the plugin's marker on each."""
        escaped = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        rows = self._catalog("{name} LIKE :pattern", pattern=escaped + "%")
        return [(name, Marker.loads(comment)) for name, comment in rows]

    def sessions_on(self, name: str) -> int:
        """PostgreSQL: how many connections other than the run's own use database ``name``."""
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
            "AND pid <> pg_backend_pid()"
        )
        return int(self._value(query, name=name))

    def clone(self, source: str, target: str, marker: Marker) -> None:
        """PostgreSQL: create ``target`` as a copy of ``source`` (no one may be connected to it)."""
        self._execute(f"CREATE DATABASE {self._quote(target)} TEMPLATE {self._quote(source)}")
        self.mark(target, marker)


class Folder:
    """SQLite's "server": a folder of database files, each with a ``.testbed`` file beside it.

    The ``.testbed`` file holds the marker, and an ``flock`` on it is the lock.
    """

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files: dict[str, IO[str]] = {}

    def _marker_path(self, name: str) -> Path:
        return self.path / f"{name}.testbed"

    def database(self, name: str) -> Path:
        return self.path / f"{name}.db"

    def try_lock(self, name: str) -> bool:
        if name in self._files:
            return True
        self.path.mkdir(parents=True, exist_ok=True)
        handle = self._marker_path(name).open("a+", encoding="utf-8")
        if not _flock(handle):
            handle.close()
            return False
        self._files[name] = handle
        return True

    def unlock(self, name: str) -> None:
        handle = self._files.pop(name, None)
        if handle is not None:
            handle.close()

    def lookup(self, name: str) -> tuple[bool, Marker | None]:
        try:
            marker = Marker.loads(self._marker_path(name).read_text(encoding="utf-8"))
        except OSError:
            marker = None
        return self.database(name).exists(), marker

    def create(self, name: str, marker: Marker) -> None:
        self.mark(name, marker)

    def mark(self, name: str, marker: Marker) -> None:
        handle = self._files.get(name)
        if handle is None:  # pragma: no cover - a claim holds the file
            self._marker_path(name).write_text(marker.dumps(), encoding="utf-8")
            return
        handle.seek(0)
        handle.truncate()
        handle.write(marker.dumps())
        handle.flush()

    def drop(self, name: str, *, marker: bool = False) -> None:
        """Remove the database's files; its marker too when not locked, or when ``marker``:
        a process that opens the name after that locks a new file, as for a new name."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.database(name)}{suffix}").unlink(missing_ok=True)
        if marker or name not in self._files:
            self._marker_path(name).unlink(missing_ok=True)

    def names_like(self, prefix: str) -> list[tuple[str, Marker | None]]:
        found = []
        for path in sorted(self.path.glob("*.testbed")) if self.path.is_dir() else []:
            name = path.name.removesuffix(".testbed")
            if name.startswith(prefix):
                found.append((name, self.lookup(name)[1]))
        return found

    def close(self) -> None:
        for name in list(self._files):
            self.unlock(name)

    def leftovers(self) -> list[str]:
        return []  # a run's temporary folder goes as a whole (see RunFolders)


def wait_lock(server: Server | Folder, name: str) -> None:
    """Take the lock on ``name``, waiting while another process holds it.

    Polled, so that Ctrl-C still ends the wait; a holder killed with ``kill -9`` lets go, as
    the server (or the kernel, for a file) releases its locks with its connection.
    """
    delay = 0.005
    while not server.try_lock(name):
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _flock(handle: IO[str]) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK}:
            return False
        raise
    return True


class RunFolders:
    """Each run's SQLite files live in a folder of its own under one parent, locked while it runs.

    A run killed with ``kill -9`` leaves its folder; the next run removes every folder whose
    lock is free.
    """

    def __init__(self, parent: Path | None = None) -> None:
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        self.parent = parent or Path(tempfile.gettempdir()) / f"fastapi-testbed-{uid}"
        self.path: Path | None = None
        self._lock: IO[str] | None = None

    def get(self) -> Path:
        """This run's folder, made (and the dead runs' folders removed) at the first call."""
        if self.path is None:
            self.parent.mkdir(parents=True, exist_ok=True)
            self.sweep()
            path = Path(tempfile.mkdtemp(prefix="run-", dir=self.parent))
            self._lock = (path / ".lock").open("a+", encoding="utf-8")
            _flock(self._lock)
            self.path = path
        return self.path

    def sweep(self) -> list[Path]:
        removed = []
        for folder in self.parent.glob("run-*"):
            lock = folder / ".lock"
            if not lock.exists():
                with contextlib.suppress(OSError):  # a folder being made right now is young
                    if time.time() - folder.stat().st_mtime < 60:
                        continue
            else:
                with contextlib.suppress(OSError), lock.open("a+", encoding="utf-8") as handle:
                    if not _flock(handle):
                        continue  # a live run
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


class Ownership:
    """The servers a run talks to, the names it holds on them, and the leftovers it removes."""

    def __init__(
        self,
        *,
        take_over: bool = False,
        reuse: bool = False,
        cache_dir: Path,
        source: str = "default",
    ) -> None:
        self._loop: LoopThread | None = None
        self.take_over = take_over  # --create-db: a database with the name but no marker is ours
        self.reuse = reuse
        self.cache_dir = cache_dir
        self.source = source
        self.run_folders = RunFolders()
        self.servers: dict[Any, Server | Folder] = {}
        self.claims: dict[Any, Claim] = {}

    def loop(self) -> LoopThread:
        """The thread of the admin connections of async drivers: its own, not the binder's,
        so that a marker can be written from inside the binder's loop (a seed, a truncate test)."""
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    def sqlite_dir(self) -> Path:
        return self.cache_dir if self.reuse else self.run_folders.get()

    def server_for(self, url: URL, *, is_async: bool) -> Server | Folder:
        if url.get_backend_name() == "sqlite":
            folder = Path(url.database or "").parent
            key: Any = ("sqlite", str(folder))
            if key not in self.servers:
                self.servers[key] = Folder(folder)
            return self.servers[key]
        key = identity(url.set(database=""))[:3]
        server = self.servers.get(key)
        if server is None:
            admin = (
                url.set(database="postgres")
                if family(url) == "postgresql"
                else url._replace(database=None)
            )
            # the app's own driver: no other driver module is imported for this connection
            server = self.servers[key] = Server(
                admin, is_async=is_async, loop=self.loop, source=self.source
            )
            self._sweep(server)
        return server

    def _sweep(self, server: Server) -> None:
        for name in server.leftovers():
            if server.try_lock(name):
                try:
                    _, marker = server.lookup(name)
                    if marker is not None and not marker.keep:
                        server.drop(name)
                finally:
                    server.unlock(name)

    def claim(self, url: URL, *, is_async: bool) -> URL:
        """``url``'s test database, or ``<name>_2``... when another live run holds the name."""
        server = self.server_for(url, is_async=is_async)
        folder = server if isinstance(server, Folder) else None
        base = Path(url.database or "").stem if folder else url.database or ""
        for number in range(1, MAX_RUNS + 1):
            name = base if number == 1 else f"{base}_{number}"
            if not server.try_lock(name):
                continue  # a live run holds it
            existed, marker = server.lookup(name)
            if existed and marker is None and not self.take_over:
                server.unlock(name)
                where = str(folder.database(name)) if folder else render(url)
                raise TestbedError(UNOWNED_DATABASE.format(name=name, url=where, setting=SETTING))
            claimed = url.set(database=str(folder.database(name)) if folder else name)
            self.claims[identity(claimed)] = Claim(server, name, existed, marker)
            return claimed
        raise TestbedError(
            NO_FREE_NAME.format(name=base, count=MAX_RUNS, url=render(url), setting=SETTING)
        )

    def template_home(self, claim: Claim, worker: str) -> tuple[Server | Folder, str]:
        """Where an xdist run keeps the template of ``claim``'s database, and its name's stem.

        ``test_x_gw0`` (or ``test_x_gw0_2`` beside another run) has ``test_x_tpl``: the
        workers of a run, and of runs at the same time, share it. SQLite's is a file in a
        folder every worker sees: the cache folder under ``--reuse-db``, else one beside the
        runs' folders.
        """
        stem = claim.name.rpartition(f"_{worker}")[0] or claim.name
        server = claim.server
        if isinstance(server, Folder):
            path = self.cache_dir if self.reuse else self.run_folders.parent / "templates"
            key: Any = ("sqlite", str(path))
            if key not in self.servers:
                self.servers[key] = Folder(path)
            server = self.servers[key]
        return server, f"{stem}_tpl"

    def claim_of(self, url: URL) -> Claim | None:
        return self.claims.get(identity(url))

    def close(self) -> None:
        """Release every lock (closing the servers' connections) and remove the run's folder."""
        for server in self.servers.values():
            server.close()
        self.servers.clear()
        self.run_folders.close()
        if self._loop is not None:
            self._loop.close()
