"""`fastapi-testbed doctor`'s environment checks: the table, drivers, async plugins, server."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from fastapi_testbed.cli.findings import Findings
from fastapi_testbed.cli.messages import NO_TABLE
from fastapi_testbed.cli.project import is_test_file, pytest_ini, walk_files
from fastapi_testbed.config import DB_URL_ENV, resolve_settings
from fastapi_testbed.errors import TestbedError
from fastapi_testbed.urls import DRIVERS

__all__ = ["Check", "check_environment"]


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str
    warning: bool = False  # worth knowing, not a problem

    def render(self) -> str:
        mark = "ok   " if self.ok else ("warn " if self.warning else "error")
        return f"  {mark} {self.text}"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_environment(root: Path, findings: Findings, db_url: str | None) -> list[Check]:
    checks: list[Check] = []
    server, source = _server(root, db_url, checks)
    checks.extend(_drivers(findings, server, source))
    checks.extend(_async_plugins(root))
    if server is not None:
        checks.append(_reachable(server, source))
    else:
        for text, where in findings.urls:
            try:
                url = make_url(text)
            except Exception:  # not a URL SQLAlchemy reads: nothing to check
                continue
            if url.get_backend_name() != "sqlite" and url.host:
                checks.append(_reachable(url, f"the app's default URL, {where}"))
    return checks


def _server(root: Path, db_url: str | None, checks: list[Check]) -> tuple[URL | None, str]:
    pyproject = root / "pyproject.toml"
    try:
        settings = resolve_settings(
            rootpath=root,
            inipath=pyproject if pyproject.is_file() else None,
            cli_db_url=db_url,
        )
    except TestbedError as exc:
        checks.append(Check(False, str(exc).removeprefix("fastapi-testbed: ")))
        settings = None
    else:
        if settings is None or settings.root != root:
            checks.append(Check(False, NO_TABLE.format(path=pyproject)))
            settings = None
        else:
            schema = (
                f"alembic_ini {settings.alembic_ini.relative_to(root)}"
                if settings.alembic_ini
                else f"metadata {settings.metadata}"
                if settings.metadata
                else "no schema"
            )
            checks.append(
                Check(True, f"[tool.testbed] in {pyproject}: app {settings.app}, {schema}")
            )
    value, source = None, ""
    if db_url:
        value, source = db_url, "--db-url"
    elif os.environ.get(DB_URL_ENV):
        value, source = os.environ[DB_URL_ENV], f"env {DB_URL_ENV}"
    elif settings is not None and settings.database_url:
        value, source = settings.database_url, "[tool.testbed] database_url"
    if value is None:
        return None, ""
    try:
        return make_url(value), source
    except Exception as exc:
        checks.append(Check(False, f"the server URL {value!r} (from {source}) is not a URL: {exc}"))
        return None, ""


def _drivers(findings: Findings, server: URL | None, source: str) -> list[Check]:
    flavour = findings.is_async
    kind = "async" if flavour else "sync"
    if server is not None:
        targets = [(server.get_backend_name(), server.drivername.partition("+")[2], source)]
    else:
        origin = "the app's URLs" if findings.backends else "no URL in the code: SQLite"
        targets = [(backend, "", origin) for backend in sorted(findings.backends) or ["sqlite"]]
    checks = []
    for backend, explicit, origin in targets:
        table = DRIVERS.get(backend)
        if table is None:
            checks.append(
                Check(False, f"{backend} (from {origin}) is not a backend the plugin tests on")
            )
            continue
        candidates = table[flavour]
        if explicit:
            known = {d: (m, p) for d, m, p in table[True] + table[False]}
            if explicit in known:
                module, package = known[explicit]
                installed = importlib.util.find_spec(module) is not None
                checks.append(
                    Check(
                        installed,
                        f"driver {explicit} for {backend} (named by {origin})"
                        + ("" if installed else f": not installed; pip install {package}"),
                    )
                )
                continue
        found = [d for d, module, _ in candidates if importlib.util.find_spec(module) is not None]
        if found:
            checks.append(Check(True, f"{kind} driver for {backend} ({origin}): {found[0]}"))
        else:
            checks.append(
                Check(
                    False,
                    f"no {kind} driver for {backend} ({origin}) is installed (tried "
                    f"{', '.join(d for d, _, _ in candidates)}): pip install {candidates[0][2]}",
                )
            )
    return checks


def _async_plugins(root: Path) -> list[Check]:
    marks: set[str] = set()
    async_tests = 0
    for path in walk_files(root):
        if not is_test_file(path):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test"):
                async_tests += 1
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"asyncio", "anyio"}
                and ast.unparse(node).endswith(f"mark.{node.attr}")
            ):
                marks.add(node.attr)
    where, options = pytest_ini(root)
    mode = options.get("asyncio_mode", "strict").strip().lower()
    asyncio_version = _version("pytest-asyncio")
    anyio_version = _version("anyio")
    checks = []
    described = (
        f"pytest-asyncio {asyncio_version} (asyncio_mode {mode}"
        + (f", from {where}" if "asyncio_mode" in options else "")
        + ")"
        if asyncio_version
        else "pytest-asyncio not installed"
    )
    described += f"; anyio {anyio_version}" if anyio_version else ""
    if not async_tests:
        checks.append(Check(True, f"no async tests; {described}"))
        return checks
    if "asyncio" in marks and not asyncio_version:
        checks.append(
            Check(
                False,
                "tests are marked pytest.mark.asyncio but pytest-asyncio is not installed: "
                "pip install pytest-asyncio, or mark them pytest.mark.anyio",
            )
        )
    elif (mode == "auto" and asyncio_version) or marks:
        checks.append(Check(True, f"{async_tests} async test(s) run by {described}"))
    else:
        checks.append(
            Check(
                False,
                f"{async_tests} async test(s) but no plugin runs them ({described}; no "
                "pytest.mark.anyio or pytest.mark.asyncio): mark them pytest.mark.anyio, or "
                'set asyncio_mode = "auto" for pytest-asyncio',
            )
        )
    if asyncio_version and "asyncio_default_fixture_loop_scope" not in options:
        checks.append(
            Check(
                False,
                "asyncio_default_fixture_loop_scope is not set: pytest-asyncio warns on every "
                'run; set it (asyncio_default_fixture_loop_scope = "function") in your pytest '
                "configuration",
                warning=True,
            )
        )
    return checks


def _reachable(url: URL, source: str) -> Check:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return Check(True, f"SQLite (from {source}): no server needed")
    host = url.host or "localhost"
    port = url.port or (5432 if backend == "postgresql" else 3306)
    shown = url.render_as_string(hide_password=True)
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        return Check(
            False,
            f"the test database server {shown} (from {source}) is not reachable at "
            f"{host}:{port}: {exc}. Start it, or test on SQLite: --testbed-db-url sqlite://",
        )
    login = _login(url)
    if login:
        return Check(False, f"the test database server {shown} (from {source}) refused: {login}")
    return Check(True, f"test database server {shown} (from {source}) reachable")


def _login(url: URL) -> str | None:
    """Log in with a sync driver when one is installed; the error's first line, or None."""
    from sqlalchemy import create_engine, text

    backend = url.get_backend_name()
    drivers = DRIVERS.get(backend, {}).get(False, [])
    driver = next((d for d, m, _ in drivers if importlib.util.find_spec(m) is not None), None)
    if driver is None:
        return None  # the socket answered; the driver check says what is missing
    admin = "postgres" if backend == "postgresql" else None
    target = url.set(drivername=f"{backend}+{driver}", database=admin)
    args = {"connect_timeout": 3}
    engine = create_engine(target, connect_args=args)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None
