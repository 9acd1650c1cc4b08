"""From the app's database URL to the test database's: driver, name, and the safety rule."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from fastapi_testbed.config import Settings
from fastapi_testbed.errors import (
    APP_DATABASE,
    MISSING_DRIVER,
    NO_DRIVER,
    UNSAFE_NAME,
    UNSUPPORTED_BACKEND,
    TestbedError,
)
from fastapi_testbed.importing import module_source, split_path

__all__ = [
    "TEST_PREFIX",
    "check_test_database",
    "detect_async",
    "render",
    "test_database_url",
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


def render(url: URL) -> str:
    """The URL as text with the password hidden."""
    return url.render_as_string(hide_password=True)


def _explicit_driver(url: URL) -> str | None:
    return url.drivername.partition("+")[2] or None


def detect_async(settings: Settings) -> bool:
    """Whether the app is async: the `async` key, an async driver in a URL, or its source text."""
    if settings.is_async is not None:
        return settings.is_async
    for candidate in (settings.database_url, settings.env.get(settings.database_url_env)):
        if candidate:
            driver = _explicit_driver(make_url(candidate))
            if driver in ASYNC_DRIVERS:
                return True
            if driver in SYNC_DRIVERS:
                return False
    paths = [*settings.sessionmakers, settings.dependency, settings.app, settings.metadata]
    sources = [module_source(module) for module in _modules(paths)]
    if settings.alembic_ini is not None:
        sources.append(_alembic_env_source(settings.alembic_ini))
    return any(source and any(m in source for m in ASYNC_MARKERS) for source in sources)


def _modules(paths: list[str | None]) -> list[str]:
    modules = []
    for path in paths:
        try:
            modules.append(split_path(path or "")[0])
        except TestbedError:
            continue  # reported with its own key when the object is imported
    return modules


def _alembic_env_source(ini: Path) -> str | None:
    """The text of the env.py an alembic.ini points at (an async env.py means an async app)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback="alembic")
    except (OSError, configparser.Error):
        return None
    location = location.replace("%(here)s", str(ini.parent))
    env = Path(location) if Path(location).is_absolute() else ini.parent / location
    try:
        return (env / "env.py").read_text(encoding="utf-8")
    except OSError:
        return None


def _choose_driver(url: URL, is_async: bool, source: str) -> URL:
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
        known = {
            driver: (module, package)
            for driver, module, package in DRIVERS[backend][True] + DRIVERS[backend][False]
        }
        if explicit in known and importlib.util.find_spec(known[explicit][0]) is None:
            example = f"{backend}+{candidates[0][0]}://..."
            raise TestbedError(
                MISSING_DRIVER.format(
                    url=render(url),
                    source=source,
                    driver=explicit,
                    package=known[explicit][1],
                    example=example,
                    setting=SETTING,
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "app"


def test_database_url(
    settings: Settings, *, is_async: bool, worker: str | None, sqlite_dir: Path
) -> URL:
    """The URL of this session's test database (one per xdist worker)."""
    source = settings.source("database_url")
    url = make_url(settings.database_url or DEFAULT_URL)
    url = _choose_driver(url, is_async, source)
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = Path(url.database).stem if url.database and url.database != ":memory:" else ""
    else:
        name = url.database or ""
    if not name:
        name = settings.app.partition(":")[0].split(".")[0] if settings.app else settings.root.name
    name = _slug(name)
    if not name.startswith(TEST_PREFIX):
        name = TEST_PREFIX + name
    if worker:
        name = f"{name}_{_slug(worker)}"
    if backend == "sqlite":
        return url.set(database=str(sqlite_dir / f"{name}.db"))
    url = url.set(database=name)
    if backend in {"mysql", "mariadb"} and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _database_name(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").name
    return url.database or ""


def _same_database(a: URL, b: URL) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return bool(a.database and b.database) and (
            Path(a.database or "").resolve() == Path(b.database or "").resolve()
        )
    return (a.host or "localhost", a.port, a.database) == (
        b.host or "localhost",
        b.port,
        b.database,
    )


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
