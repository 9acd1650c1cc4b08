"""Put the test settings into os.environ before the app is imported, and take them out after."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from fastapi_testbed.config import Settings
from fastapi_testbed.urls import detect_async, test_database_url

__all__ = ["Environment", "prepare_environment"]


@dataclass
class Environment:
    """The resolved test database and the environment variables the plugin changed."""

    url: URL
    is_async: bool
    app_urls: tuple[tuple[str, str], ...]
    saved: dict[str, str | None] = field(default_factory=dict)
    temp_dir: Path | None = None

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
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None


def prepare_environment(settings: Settings, *, worker: str | None, cache_dir: Path) -> Environment:
    """Resolve the test database URL and export it (and the `env` table) for the app to read."""
    is_async = detect_async(settings)
    temp_dir: Path | None = None
    if settings.reuse_db:
        sqlite_dir = cache_dir
    else:
        temp_dir = sqlite_dir = Path(tempfile.mkdtemp(prefix="fastapi-testbed-"))
    url = test_database_url(settings, is_async=is_async, worker=worker, sqlite_dir=sqlite_dir)
    # The databases the app would use outside tests; the safety rule never lets us touch them.
    app_urls = tuple(
        (f"{origin} {settings.database_url_env}", value)
        for origin, value in (
            ("env", os.environ.get(settings.database_url_env)),
            ("[tool.testbed] env", settings.env.get(settings.database_url_env)),
        )
        if value
    )
    environment = Environment(url=url, is_async=is_async, app_urls=app_urls, temp_dir=temp_dir)
    for name, value in settings.env.items():
        environment.set(name, value)
    environment.set(settings.database_url_env, url.render_as_string(hide_password=False))
    return environment
