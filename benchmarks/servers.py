"""The databases the suites run on: SQLite files, PostgreSQL, MariaDB; URLs, create, drop.

Every database the benchmark makes or removes is named ``test_bench_<pid>_*``, this run's own
(so two benchmarks on one server never meet): the plugin's (named by ``--testbed-db-url``), the
hand-written conftests' (``test_bench_<pid>_hand_asyncio``...), which create and drop their own,
and pytest-sqla's, which the benchmark creates before each of its runs and drops after.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

DRIVERS = {
    # backend: (async driver, sync driver), the drivers the plugin picks for these backends too
    "sqlite": ("sqlite+aiosqlite", "sqlite"),
    "postgresql": ("postgresql+asyncpg", "postgresql+psycopg"),
    "mariadb": ("mysql+aiomysql", "mysql+pymysql"),
}


@dataclass(frozen=True)
class Database:
    """One backend: ``server`` is its URL without a database (None: SQLite files)."""

    name: str
    server: str | None

    def url(self, database: str, *, folder: Path, sync: bool = False) -> str:
        """The URL of the test database ``database`` with the async (or sync) driver."""
        assert database.startswith("test_"), database
        driver = DRIVERS[self.name][1 if sync else 0]
        if self.server is None:
            return f"{driver}:///{folder / f'{database}.db'}"
        url = make_url(self.server).set(drivername=driver, database=database)
        return url.render_as_string(hide_password=False)

    def testbed_options(self, database: str | None = None) -> list[str]:
        """The plugin's options: the server (and the test database's name, if given)."""
        if self.server is None:
            return []  # the plugin's default for an app on SQLite: a file per run
        return ["--testbed-db-url", self.server + (database or "")]

    def _admin(self) -> URL:
        assert self.server is not None
        admin = "postgres" if self.name == "postgresql" else "mysql"
        return make_url(self.server).set(drivername=DRIVERS[self.name][1], database=admin)

    def _execute(self, statements: Iterable[str]) -> None:
        engine = create_engine(self._admin(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for statement in statements:
                    connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def _quoted(self, database: str) -> str:
        assert database.startswith("test_bench_"), database  # ours, and nothing else
        return f'"{database}"' if self.name == "postgresql" else f"`{database}`"

    def create(self, database: str, *, folder: Path) -> None:
        """Create an empty database (dropped first if it is there; SQLite: remove its file)."""
        if self.server is None:
            (folder / f"{database}.db").unlink(missing_ok=True)
            return
        self.drop([database])
        self._execute([f"CREATE DATABASE {self._quoted(database)}"])

    def drop(self, databases: Iterable[str]) -> None:
        """Drop these databases if they exist (a server that is down has said so already)."""
        if self.server is None:
            return
        names = list(databases)
        force = " WITH (FORCE)" if self.name == "postgresql" else ""
        try:
            self._execute(f"DROP DATABASE IF EXISTS {self._quoted(name)}{force}" for name in names)
        except SQLAlchemyError as exc:
            print(f"could not drop {', '.join(names)} on {self.name}: {exc}", file=sys.stderr)

    def version(self) -> str:
        """The server's version, for the report."""
        if self.server is None:
            return f"SQLite {sqlite3.sqlite_version}"
        query = "select version()"
        try:
            engine = create_engine(self._admin())
            with engine.connect() as connection:
                version = str(connection.execute(text(query)).scalar_one())
            engine.dispose()
        except SQLAlchemyError as exc:
            return f"{self.name}: unreachable ({type(exc).__name__})"
        if self.name == "postgresql":
            return " ".join(version.split()[:2])  # "PostgreSQL 15.20"
        return f"MariaDB {version.split('-')[0]}" if "mariadb" in version.lower() else version


def databases(names: Iterable[str], *, postgresql: str, mariadb: str) -> list[Database]:
    servers = {"sqlite": None, "postgresql": postgresql, "mariadb": mariadb}
    return [Database(name, servers[name]) for name in names]
