"""From the app's database URL to the test database's: driver, name, and the safety rule."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from fastapi_testbed.config import Settings
from fastapi_testbed.errors import (
    APP_DATABASE,
    MISSING_DRIVER,
    NO_DRIVER,
    UNKNOWN_DRIVER,
    UNSAFE_NAME,
    UNSUPPORTED_BACKEND,
    WRONG_KIND_DRIVER,
    TestbedError,
)
from fastapi_testbed.importing import module_source, split_path

__all__ = [
    "TEST_PREFIX",
    "TestUrls",
    "check_test_database",
    "detect_async",
    "family",
    "identity",
    "project_name",
    "render",
]

TEST_PREFIX = "test_"
DEFAULT_URL = "sqlite://"
SETTING = "--testbed-db-url / TESTBED_DATABASE_URL / [tool.testbed] database_url"

# backend -> flavour -> candidate drivers, best first: (driver, module to import, pip package)
DRIVERS: dict[str, dict[bool, list[tuple[str, str, str]]]] = {
    "postgresql": {
        True: [("asyncpg", "asyncpg", "asyncpg"), ("psycopg", "psycopg", "psycopg[binary]")],
        False: [
            ("psycopg", "psycopg", "psycopg[binary]"),
            ("psycopg2", "psycopg2", "psycopg2-binary"),
        ],
    },
    "mysql": {
        True: [("aiomysql", "aiomysql", "aiomysql"), ("asyncmy", "asyncmy", "asyncmy")],
        False: [("pymysql", "pymysql", "pymysql"), ("mysqldb", "MySQLdb", "mysqlclient")],
    },
    "sqlite": {
        True: [("aiosqlite", "aiosqlite", "aiosqlite")],
        False: [("pysqlite", "sqlite3", "(built in)")],
    },
}
DRIVERS["mariadb"] = DRIVERS["mysql"]
ASYNC_DRIVERS = frozenset({"asyncpg", "aiomysql", "asyncmy", "aiosqlite", "psycopg_async"})
SYNC_DRIVERS = frozenset({"psycopg2", "pymysql", "mysqldb", "pysqlite", "pg8000", "mysqlconnector"})
ASYNC_MARKERS = ("async_sessionmaker", "create_async_engine", "AsyncSession", "AsyncEngine")


def _fits(url: URL, is_async: bool) -> bool:
    driver = _explicit_driver(url)
    if driver in ASYNC_DRIVERS:
        return is_async
    if driver in SYNC_DRIVERS:
        return not is_async
    return driver is not None  # psycopg serves both; no driver means SQLAlchemy's sync default


def render(url: URL) -> str:
    """The URL as text with the password hidden."""
    return url.render_as_string(hide_password=True)


def _explicit_driver(url: URL) -> str | None:
    return url.drivername.partition("+")[2] or None


def detect_async(settings: Settings) -> bool:
    """Whether the app is async: the `async` key, an async driver in a URL, or its source text."""
    if settings.is_async is not None:
        return settings.is_async
    for candidate in (settings.database_url, settings.app_database_url):
        if candidate:
            try:
                driver = _explicit_driver(make_url(candidate))
            except Exception:  # reported with its setting when the URL is used
                continue
            if driver in ASYNC_DRIVERS:
                return True
            if driver in SYNC_DRIVERS:
                return False
    paths = [*settings.sessionmakers, settings.dependency, settings.app, settings.metadata]
    sources = [module_source(module) for module in _modules(paths)]
    sources.extend(_package_sources(settings))
    if settings.alembic_ini is not None:
        sources.append(_alembic_env_source(settings.alembic_ini))
    return any(source and any(m in source for m in ASYNC_MARKERS) for source in sources)


def _package_sources(settings: Settings, limit: int = 300) -> list[str]:
    """The text of the app's package (its top-level folder under the project), unexecuted."""
    if not settings.app:
        return []
    package = settings.root / settings.app.partition(":")[0].split(".")[0]
    if not package.is_dir():
        return []
    sources = []
    for path in sorted(package.rglob("*.py"))[:limit]:
        try:
            sources.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return sources


def _modules(paths: list[str | None]) -> list[str]:
    modules = []
    for path in paths:
        try:
            modules.append(split_path(path or "")[0])
        except TestbedError:
            continue  # reported with its own key when the object is imported
    return modules


def script_location(ini: Path) -> Path:
    """The folder of the migrations an alembic.ini points at (read without running Alembic)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(OSError, configparser.Error):
        parser.read(ini, encoding="utf-8")
    location = parser.get("alembic", "script_location", fallback="alembic")
    location = location.replace("%(here)s", str(ini.parent))
    return Path(location) if Path(location).is_absolute() else ini.parent / location


def _alembic_env_source(ini: Path) -> str | None:
    """The text of the env.py an alembic.ini points at (an async env.py means an async app)."""
    try:
        return (script_location(ini) / "env.py").read_text(encoding="utf-8")
    except OSError:
        return None


def choose_driver(url: URL, is_async: bool, source: str, *, kind_must_fit: bool = True) -> URL:
    """The URL with an installed driver of the engine's kind: the one it names, or the best one.

    A named driver must be known to SQLAlchemy and installed, and (unless ``kind_must_fit`` is
    false: a server URL serves sync and async engines alike) be of the engine's kind.
    """
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        raise TestbedError(
            UNSUPPORTED_BACKEND.format(
                url=render(url), source=source, backend=backend, setting=SETTING
            )
        )
    candidates = DRIVERS[backend][is_async]
    explicit = _explicit_driver(url)
    if explicit:
        _check_installed(url, explicit, candidates, source)
        if kind_must_fit and not _fits(url, is_async) and _fits(url, not is_async):
            found, kind = ("async", "sync") if is_async is False else ("sync", "async")
            raise TestbedError(
                WRONG_KIND_DRIVER.format(
                    url=render(url),
                    found=found,
                    driver=explicit,
                    kind=kind,
                    maker="create_async_engine" if is_async else "create_engine",
                    article="an" if kind == "async" else "a",
                    candidates=", ".join(driver for driver, _, _ in candidates),
                    backend=backend,
                )
            )
        return url
    for driver, module, _package in candidates:
        if importlib.util.find_spec(module) is not None:
            return url.set(drivername=f"{backend}+{driver}")
    raise TestbedError(
        NO_DRIVER.format(
            flavour="async" if is_async else "sync",
            backend=backend,
            tried=", ".join(driver for driver, _, _ in candidates),
            package=candidates[0][2],
            setting=SETTING,
        )
    )


def _check_installed(
    url: URL, explicit: str, candidates: list[tuple[str, str, str]], source: str
) -> None:
    """A driver the URL names: known to SQLAlchemy for its backend, and importable."""
    backend = url.get_backend_name()
    every = DRIVERS[backend][True] + DRIVERS[backend][False]
    known = {driver: (module, package) for driver, module, package in every}
    module, package = known.get(explicit, (None, explicit))
    if module is None:  # a driver the plugin has no row for: ask SQLAlchemy's dialect
        try:
            dialect = url.get_dialect()
        except Exception:  # NoSuchModuleError
            raise TestbedError(
                UNKNOWN_DRIVER.format(
                    url=render(url),
                    source=source,
                    driver=explicit,
                    backend=backend,
                    known=", ".join(driver for driver, _, _ in every),
                    setting=SETTING,
                )
            ) from None
        try:
            dialect.import_dbapi()
            return
        except ImportError as exc:
            package = (exc.name or explicit).split(".")[0]
    elif importlib.util.find_spec(module) is not None:
        return
    raise TestbedError(
        MISSING_DRIVER.format(
            url=render(url),
            source=source,
            driver=explicit,
            package=package,
            example=f"{backend}+{candidates[0][0]}://...",
            setting=SETTING,
        )
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "app"


def family(url: URL) -> str:
    """The backend, MariaDB counted as MySQL (they share drivers and dialects)."""
    backend = url.get_backend_name()
    return "mysql" if backend == "mariadb" else backend


def app_database_name(url: URL) -> str:
    """The name a URL gives its database: a SQLite file's stem, or the server database's name."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        return (
            ""
            if database in {"", ":memory:"} or database.startswith("file:")
            else (Path(database).stem)
        )
    return url.database or ""


@functools.cache
def _local_names() -> frozenset[str]:
    """Names and addresses of this machine, for which a URL's host is "localhost"."""
    import socket

    names = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "localhost.localdomain"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower())
    return frozenset(names)


def identity(url: URL) -> tuple[str, str, int | None, str]:
    """What makes two URLs the same database, whatever their driver."""
    if url.get_backend_name() == "sqlite":
        return ("sqlite", "", None, str(Path(url.database or "").resolve()))
    host = (url.host or "localhost").lower()
    if host in _local_names() or host.startswith("/") or "unix_socket" in url.query:
        host = "localhost"  # the loopback, the machine's own name, a Unix socket: this machine
    default_port = 5432 if family(url) == "postgresql" else 3306
    return (family(url), host, url.port or default_port, url.database or "")


class TestUrls:
    """Maps each database URL the app uses to its test database: ``test_<its name>``.

    On ``server`` when one is given (the command line, the environment or the table), else on
    the app's own server; SQLite databases (``:memory:`` included) become files in ``sqlite_dir``.
    The driver the app chose is kept when the backend stays the same. Mapping a test URL again
    gives it back unchanged, so a URL that went through the app's settings and back still works.
    """

    __test__ = False

    def __init__(
        self,
        *,
        server: URL | None,
        worker: str | None,
        sqlite_dir: Path | Callable[[], Path],
        project: str,
        source: str = "default",
        claim: Callable[[URL, bool], URL] = lambda url, is_async: url,
    ) -> None:
        self.server = server
        self.worker = worker
        self._sqlite_dir = sqlite_dir
        self.claim = claim  # the name this run may use: test_x, or test_x_2 beside another run
        self.project = _slug(project)
        self.source = source
        self.main_name: str | None = None  # the app's main database, named by the server URL
        self.main_test_name: str | None = None  # and the name of its test database
        self._made: set[tuple[str, str, int | None, str]] = set()
        self.names: dict[tuple[str, str, int | None, str], str] = {}  # test database -> app's

    def app_name_of(self, url: URL) -> str | None:
        """The name of the app's database that a test database stands for."""
        return self.names.get(identity(url))

    @property
    def sqlite_dir(self) -> Path:
        return self._sqlite_dir if isinstance(self._sqlite_dir, Path) else self._sqlite_dir()

    def is_test_url(self, url: URL) -> bool:
        return identity(url) in self._made

    def map(self, url: URL, *, is_async: bool, main: bool | None = None) -> URL:
        """The test database URL for ``url`` (an engine's), with the driver to use."""
        if self.is_test_url(url):
            if _fits(url, is_async):
                return url
            # a test URL exported for the app, used by an engine of the other kind
            return choose_driver(url.set(drivername=url.get_backend_name()), is_async, self.source)
        name = _slug(app_database_name(url) or self.project)
        if main is None:
            main = self.main_name is None or self.main_name == name
        if main and self.main_name is None:
            self.main_name = name
        server = self.server
        if server is None:
            target = url
        else:
            target = server.set(drivername=self._driver(url, server, is_async))
            if family(url) == family(server):
                target = target.update_query_dict(dict(url.query))
                target = target.update_query_dict(dict(server.query))
        chosen = server.database if server is not None and main and server.database else None
        if chosen and target.get_backend_name() == "sqlite":
            chosen = Path(chosen).stem if chosen != ":memory:" else None
        if chosen:  # the server URL names the main test database: test_ added if missing
            test_name = _slug(chosen)
            if not test_name.startswith(TEST_PREFIX):
                test_name = TEST_PREFIX + test_name
        else:  # as Django does: test_<name> always, so the app's own database is never it
            test_name = TEST_PREFIX + name
        if self.worker:
            test_name = f"{test_name}_{_slug(self.worker)}"
        if target.get_backend_name() == "sqlite":
            result = target.set(database=str(self.sqlite_dir / f"{test_name}.db"))
            result = result.difference_update_query(["mode", "uri"])
        else:
            result = target.set(database=test_name)
            if family(result) == "mysql" and "charset" not in result.query:
                result = result.update_query_dict({"charset": "utf8mb4"})
        result = choose_driver(result, is_async, self.source)  # installed, and fits the engine
        result = self.claim(result, is_async)
        self._made.add(identity(result))
        self.names[identity(result)] = name
        if main and self.main_test_name is None:
            self.main_test_name = app_database_name(result)
        return result

    def _driver(self, url: URL, server: URL, is_async: bool) -> str:
        if _explicit_driver(server):
            choose_driver(server, is_async, self.source, kind_must_fit=False)  # installed
            if _fits(server, is_async):
                return server.drivername
            # the server names an async driver and this engine is sync (or the other way
            # round, as an async app's sync env.py): the backend's driver for its kind
            bare = server.set(drivername=server.get_backend_name())
            return choose_driver(bare, is_async, self.source).drivername
        if family(url) == family(server) and _explicit_driver(url):
            return f"{server.get_backend_name()}+{_explicit_driver(url)}"
        return choose_driver(server, is_async, self.source).drivername


def project_name(settings: Settings) -> str:
    return settings.app.partition(":")[0].split(".")[0] if settings.app else settings.root.name


def _database_name(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").name
    return url.database or ""


def _same_database(a: URL, b: URL) -> bool:
    return identity(a) == identity(b)


def check_test_database(url: URL, action: str, *, app_urls: Iterable[tuple[str, str]] = ()) -> None:
    """Refuse to touch a database that is not a test database, or that the app uses for real."""
    name = _database_name(url)
    if not name.startswith(TEST_PREFIX):
        raise TestbedError(
            UNSAFE_NAME.format(action=action, name=name, url=render(url), setting=SETTING)
        )
    for env, value in app_urls:
        try:
            app_url = make_url(value)
        except Exception:  # an unparsable URL cannot be the same database
            continue
        if _same_database(url, app_url):
            raise TestbedError(
                APP_DATABASE.format(
                    action=action, name=name, env=env, app_url=render(app_url), setting=SETTING
                )
            )
