"""Put the test settings into os.environ before the app is imported, and take them out after."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi_testbed.errors import BAD_ENV_PLACEHOLDER, BAD_URL, TestbedError

if TYPE_CHECKING:  # the plugin calls inherit_original_environment() in every project
    from sqlalchemy.engine import URL

    from fastapi_testbed.config import Settings
    from fastapi_testbed.ownership import Ownership
    from fastapi_testbed.urls import TestUrls

__all__ = ["Environment", "prepare_environment"]


@dataclass
class Environment:
    """The test database URLs and the environment variables the plugin changed."""

    url: URL
    is_async: bool
    app_urls: tuple[tuple[str, str], ...]
    urls: TestUrls
    ownership: Ownership
    saved: dict[str, str | None] = field(default_factory=dict)

    def set(self, name: str, value: str) -> None:
        """Set an environment variable, remembering its old value for :meth:`restore`."""
        self.saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def restore(self) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.saved.clear()


ORIGINAL_ENV = "FASTAPI_TESTBED_ORIGINAL_ENV"


def inherit_original_environment() -> None:
    """In a process a run of the plugin started (an xdist worker), undo that run's exports.

    Otherwise a worker would read the controller's test URL as the app's own and derive
    ``test_test_x_gw0`` from it.
    """
    inherited = os.environ.get(ORIGINAL_ENV)
    if not inherited:
        return
    try:
        original = json.loads(inherited)
    except ValueError:
        return
    for name, value in original.items() if isinstance(original, dict) else ():
        if value is None:
            os.environ.pop(name, None)
        elif isinstance(value, str):
            os.environ[name] = value
    os.environ.pop(ORIGINAL_ENV, None)


def _parse(value: str, source: str, setting: str | None = None) -> URL:
    from sqlalchemy.engine import make_url

    from fastapi_testbed.urls import SETTING

    setting = setting or SETTING
    try:
        return make_url(value)
    except Exception:  # SQLAlchemy's ArgumentError and friends: one message instead
        raise TestbedError(BAD_URL.format(url=value, source=source, setting=setting)) from None


def _app_url_setting(settings: Settings) -> str:
    """Where the app's own URL variable got its value, as a thing to change."""
    name = settings.database_url_env
    if settings.source("app_database_url").startswith("[tool.testbed]"):
        return f"[tool.testbed] env.{name} in {settings.pyproject}"
    return f"the environment variable {name}"


def placeholders(url: URL) -> dict[str, str]:
    """What `env` values may use: the main test database's URL and its parts."""
    return {
        "test_url": url.render_as_string(hide_password=False),
        "test_host": url.host or "",
        "test_port": str(url.port or ""),
        "test_user": url.username or "",
        "test_password": url.password or "",
        "test_database": url.database or "",
    }


def prepare_environment(
    settings: Settings, *, worker: str | None, cache_dir: Path, claim: bool = True
) -> Environment:
    """Map database URLs to test databases; export the app's URL variable and the `env` table.

    The names are claimed (see ownership.py) as they are mapped, unless ``claim`` is false
    (``--collect-only`` reaches no server); on an error every claim is released.
    """
    from fastapi_testbed.ownership import Ownership

    ownership = Ownership(
        take_over=settings.create_db,
        reuse=settings.reuse_db,
        cache_dir=cache_dir,
        source=settings.source("database_url"),
    )
    try:
        return _prepare(settings, worker=worker, ownership=ownership, claim=claim)
    except BaseException:
        ownership.close()
        raise


def _prepare(
    settings: Settings, *, worker: str | None, ownership: Ownership, claim: bool
) -> Environment:
    from sqlalchemy.engine import make_url

    from fastapi_testbed.urls import DEFAULT_URL, TestUrls, detect_async, project_name

    is_async = detect_async(settings)
    server = (
        _parse(settings.database_url, settings.source("database_url"))
        if settings.database_url
        else None
    )
    urls = TestUrls(
        server=server,
        worker=worker,
        sqlite_dir=ownership.sqlite_dir,
        project=project_name(settings),
        source=settings.source("database_url"),
        claim=(lambda url, is_async: ownership.claim(url, is_async=is_async))
        if claim
        else (lambda url, is_async: url),
    )
    app_url = (
        _parse(
            settings.app_database_url,
            settings.source("app_database_url"),
            _app_url_setting(settings),
        )
        if settings.app_database_url
        else None
    )
    exported = app_url or server
    if exported is not None:
        url = urls.map(exported, is_async=is_async)
    else:  # the database of an app with no engine of its own; no engine's name is claimed
        url = urls.map(make_url(DEFAULT_URL), is_async=is_async, main=False)
    # An app that reads its URL from this variable gets the test database's: when it has a
    # value to map, when the tests name a server, or when the table names the variable.
    export = exported is not None or "database_url_env" in settings.table
    # The databases the app would use outside tests; the safety rule never lets us touch them.
    app_urls = tuple(
        (f"{origin} {settings.database_url_env}", value)
        for origin, value in (
            ("env", os.environ.get(settings.database_url_env)),
            ("[tool.testbed] env", settings.env.get(settings.database_url_env)),
        )
        if value
    )
    environment = Environment(
        url=url, is_async=is_async, app_urls=app_urls, urls=urls, ownership=ownership
    )
    parts = placeholders(url)
    for name, value in settings.env.items():
        try:
            environment.set(name, value.format_map(parts) if "{" in value else value)
        except (KeyError, ValueError, IndexError) as exc:
            raise TestbedError(
                BAD_ENV_PLACEHOLDER.format(
                    name=name, value=value, error=exc, known=", ".join(f"{{{p}}}" for p in parts)
                )
            ) from None
    if export:
        environment.set(settings.database_url_env, url.render_as_string(hide_password=False))
    # pytest-xdist's workers inherit this environment: tell them what it was before the plugin
    environment.set(ORIGINAL_ENV, json.dumps(environment.saved))
    return environment
