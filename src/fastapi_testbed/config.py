"""Resolve the plugin's settings once: CLI, then environment, then [tool.testbed], then defaults.

The result is a frozen :class:`Settings`; ``sources`` says where each value came from, for the
report header. Nothing here imports the user's app.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fastapi_testbed.errors import (
    BAD_TABLE_VALUE,
    ENV_NOT_STRING,
    UNKNOWN_KEYS,
    TestbedError,
)
from fastapi_testbed.importing import split_path

__all__ = ["SETTINGS_KEY", "Settings", "describe_suite", "find_table", "resolve_settings"]

DB_URL_ENV = "TESTBED_DATABASE_URL"
REUSE_DB_ENV = "TESTBED_REUSE_DB"

CORE_KEYS = frozenset(
    {
        "app",
        "database_url_env",
        "database_url",
        "metadata",
        "alembic_ini",
        "sessionmakers",
        "dependency",
        "env",
        "async",
        "reuse_db",
        "xdist_template",
        "databases",
        "engine",
        # what real suites need beyond one test (issue 14)
        "base_url",
        "headers",
        "settings",
        "db_access",
        "seed",
    }
)
# Keys read by the fakes plugin (fastapi_testbed.fakes); accepted here so typos elsewhere stand out.
FAKES_KEYS = frozenset(
    {
        "smtp_host_env",
        "smtp_port_env",
        "mail_send_function",
        "s3_buckets",
        "s3_endpoint_env",
        "s3_region",
        "current_user",
        "allowed_hosts",
        "n_plus_one_threshold",
        "network",
    }
)
DB_ACCESS = ("implicit", "explicit")
NETWORK = ("deny", "allow")


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one pytest session."""

    pyproject: Path
    root: Path
    table: Mapping[str, Any]
    app: str | None = None
    database_url_env: str = "DATABASE_URL"
    database_url: str | None = None
    metadata: str | None = None
    alembic_ini: Path | None = None
    databases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    engine: str | None = None
    app_database_url: str | None = None
    sessionmakers: tuple[str, ...] = ()
    dependency: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    is_async: bool | None = None
    reuse_db: bool = False
    create_db: bool = False
    xdist_template: bool = False  # under pytest-xdist: build once, copy to each worker
    base_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    app_settings: str | None = None
    db_access: str = "implicit"
    seed: str | None = None
    network: str = "deny"
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, name: str) -> str:
        """Where the value of ``name`` came from."""
        return self.sources.get(name, "default")


SETTINGS_KEY = pytest.StashKey[Settings]()


def find_table(rootpath: Path, inipath: Path | None) -> tuple[Path, dict[str, Any]] | None:
    """Find the pyproject.toml holding [tool.testbed]: the ini file, then rootdir and upwards."""
    candidates: list[Path] = []
    if inipath is not None and inipath.name == "pyproject.toml":
        candidates.append(inipath)
    candidates.extend(directory / "pyproject.toml" for directory in (rootpath, *rootpath.parents))
    for candidate in candidates:
        if not candidate.is_file():
            continue
        with candidate.open("rb") as handle:
            data = tomllib.load(handle)
        table = data.get("tool", {}).get("testbed")
        if table is not None:
            return candidate, table
    return None


def _expect(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], text: str, path: Path
) -> Any:
    value = table.get(key)
    if value is not None and not isinstance(value, kind):
        raise TestbedError(BAD_TABLE_VALUE.format(key=key, path=path, expected=text, found=value))
    return value


def _env(table: Mapping[str, Any], path: Path) -> dict[str, str]:
    """[tool.testbed] env: strings only; `DEBUG = true` would reach the app as "True"."""
    env = _expect(table, "env", dict, "a table of strings", path) or {}
    for name, value in env.items():
        if not isinstance(value, str):
            if isinstance(value, bool):
                suggestion = f'"{str(value).lower()}"'
            elif isinstance(value, int | float):
                suggestion = f'"{value}"'
            else:
                suggestion = '"..." (a string)'
            raise TestbedError(
                ENV_NOT_STRING.format(
                    name=name,
                    path=path,
                    found=value,
                    kind=_toml_kind(value),
                    suggestion=suggestion,
                )
            )
    return {str(name): value for name, value in env.items()}


def _toml_kind(value: Any) -> str:
    kinds = (bool, "a boolean"), (int, "an integer"), (float, "a float"), (dict, "a table")
    return next(
        (kind for cls, kind in kinds if isinstance(value, cls)), f"a TOML {type(value).__name__}"
    )


def _databases(table: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """[tool.testbed.databases.<name>]: the schema of each further database, by its app name."""
    raw = _expect(table, "databases", dict, "a table of tables", path) or {}
    databases: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        key = f"databases.{name}"
        if not isinstance(entry, dict) or set(entry) - {"metadata", "alembic_ini"}:
            raise TestbedError(
                BAD_TABLE_VALUE.format(
                    key=key,
                    path=path,
                    expected="a table with metadata and/or alembic_ini",
                    found=entry,
                )
            )
        metadata = _expect(entry, "metadata", str, "a string", path)
        alembic = _expect(entry, "alembic_ini", str, "a string", path)
        if metadata is not None:
            split_path(metadata, f"{key}.metadata")
        databases[str(name)] = {
            "metadata": metadata,
            "alembic_ini": (path.parent / alembic) if alembic else None,
        }
    return databases


def describe_suite(settings: Settings) -> list[str]:
    """The report header's lines about the suite keys: what is on."""
    if settings.db_access == "explicit":
        access = (
            "only tests that ask (db_session, db_connection, client, sync_client, testbed, "
            '@pytest.mark.testbed) reach the database (db_access = "explicit")'
        )
    else:
        access = "every test is isolated, database fixtures or not"
    lines = [access]
    if settings.base_url or settings.headers:
        headers = ", ".join(settings.headers) or "none"
        lines.append(f"clients on {settings.base_url or 'the default URL'}, headers {headers}")
    if settings.app_settings:
        lines.append(f"settings fixture on {settings.app_settings}")
    if settings.seed:
        lines.append(f"seed {settings.seed}, once after the schema is built")
    return [f"testbed: {line}" for line in lines]


def _choice(table: Mapping[str, Any], key: str, choices: tuple[str, ...], path: Path) -> str:
    value = table.get(key, choices[0])
    if value not in choices:
        expected = " or ".join(f'"{choice}"' for choice in choices)
        raise TestbedError(
            BAD_TABLE_VALUE.format(key=key, path=path, expected=expected, found=value)
        )
    return str(value)


def _suite_keys(table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """base_url, headers, settings, db_access, seed and network: how the suite uses the app."""
    base_url = _expect(table, "base_url", str, 'a URL such as "http://localhost"', path)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise TestbedError(
            BAD_TABLE_VALUE.format(
                key="base_url",
                path=path,
                expected='a URL such as "http://localhost"',
                found=base_url,
            )
        )
    headers = _expect(table, "headers", dict, "a table of strings", path) or {}
    if not all(isinstance(value, str) for value in headers.values()):
        raise TestbedError(
            BAD_TABLE_VALUE.format(
                key="headers", path=path, expected="a table of strings", found=headers
            )
        )
    app_settings = _expect(table, "settings", str, 'a "module:attribute" string', path)
    seed = _expect(table, "seed", str, 'a "module:function" string', path)
    for key, value in (("settings", app_settings), ("seed", seed)):
        if value is not None:
            split_path(value, key)
    return {
        "base_url": base_url,
        "headers": {str(name): value for name, value in headers.items()},
        "app_settings": app_settings,
        "db_access": _choice(table, "db_access", DB_ACCESS, path),
        "seed": seed,
        "network": _choice(table, "network", NETWORK, path),
    }


def resolve_settings(
    *,
    rootpath: Path,
    inipath: Path | None,
    cli_db_url: str | None = None,
    cli_reuse_db: bool = False,
    cli_create_db: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Settings | None:
    """Resolve the settings; None when no [tool.testbed] table exists (the plugin stays dormant)."""
    environ = os.environ if environ is None else environ
    found = find_table(rootpath, inipath)
    if found is None:
        return None
    path, table = found
    unknown = sorted(set(table) - CORE_KEYS - FAKES_KEYS)
    if unknown:
        raise TestbedError(
            UNKNOWN_KEYS.format(
                keys=", ".join(unknown), path=path, known=", ".join(sorted(CORE_KEYS | FAKES_KEYS))
            )
        )
    here = f"[tool.testbed] in {path}"
    sources: dict[str, str] = {}
    for key in table:
        sources[key] = here

    app = _expect(table, "app", str, "a string", path)
    url_env = _expect(table, "database_url_env", str, "a string", path) or "DATABASE_URL"
    metadata = _expect(table, "metadata", str, "a string", path)
    alembic = _expect(table, "alembic_ini", str, "a string", path)
    makers = _expect(table, "sessionmakers", (list, str), "a list of strings", path) or []
    if isinstance(makers, str):
        makers = [makers]
    if not all(isinstance(item, str) for item in makers):
        raise TestbedError(
            BAD_TABLE_VALUE.format(
                key="sessionmakers", path=path, expected="a list of strings", found=makers
            )
        )
    dependency = _expect(table, "dependency", str, "a string", path)
    engine = _expect(table, "engine", str, "a string", path)
    for key, values in (
        ("engine", [engine]),
        ("app", [app]),
        ("metadata", [metadata]),
        ("sessionmakers", makers),
        ("dependency", [dependency]),
    ):
        for value in values:
            if value is not None:
                split_path(value, key)  # the format is checked now; the import happens later
    env = _env(table, path)
    is_async = _expect(table, "async", bool, "true or false", path)

    databases = _databases(table, path)

    # The server: CLI, then environment, then [tool.testbed]; else each engine's own server.
    database_url: str | None = None
    if cli_db_url:
        database_url, sources["database_url"] = cli_db_url, "--testbed-db-url"
    elif environ.get(DB_URL_ENV):
        database_url, sources["database_url"] = environ[DB_URL_ENV], f"env {DB_URL_ENV}"
    elif table.get("database_url"):
        database_url = _expect(table, "database_url", str, "a string", path)
    else:
        sources.pop("database_url", None)
    # The app's own variable, if it has one: its test database is exported in its place.
    app_database_url: str | None = None
    if env.get(url_env):
        app_database_url, sources["app_database_url"] = (
            env[url_env],
            f"[tool.testbed] env.{url_env}",
        )
    elif environ.get(url_env):
        app_database_url, sources["app_database_url"] = environ[url_env], f"env {url_env}"

    reuse = bool(_expect(table, "reuse_db", bool, "true or false", path))
    if cli_reuse_db:
        reuse, sources["reuse_db"] = True, "--reuse-db"
    elif environ.get(REUSE_DB_ENV, "").lower() in {"1", "true", "yes"}:
        reuse, sources["reuse_db"] = True, f"env {REUSE_DB_ENV}"
    if cli_create_db:
        sources["create_db"] = "--create-db"
    template = bool(_expect(table, "xdist_template", bool, "true or false", path))

    suite = _suite_keys(table, path)
    return Settings(
        **suite,
        pyproject=path,
        root=path.parent,
        table=dict(table),
        app=app,
        database_url_env=url_env,
        database_url=database_url,
        metadata=metadata,
        alembic_ini=(path.parent / alembic) if alembic else None,
        databases=databases,
        engine=engine,
        app_database_url=app_database_url,
        sessionmakers=tuple(makers),
        dependency=dependency,
        env=env,
        is_async=is_async,
        reuse_db=reuse,
        create_db=cli_create_db,
        xdist_template=template,
        sources=sources,
    )
