"""Alembic environment: async engine from DATABASE_URL, batch mode on SQLite.

The URL is, in order: a connection handed over in `config.attributes["connection"]`,
`sqlalchemy.url` if a caller set it, then the DATABASE_URL environment variable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from logging.config import fileConfig
from typing import Any

from alembic import context
from blog_app.models import Base
from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("Set DATABASE_URL (or sqlalchemy.url) to the database to migrate.")
    return url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = (
        connection.dialect.name
        if connection is not None
        else make_url(url or "").get_backend_name()
    )
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=dialect == "sqlite",
        compare_type=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


def _run_coroutine_blocking(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # Called from inside an event loop (an async caller): migrate on a thread of our own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, coroutine).result()


def run_migrations_offline() -> None:
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
        return
    url = _database_url()
    if make_url(url).get_dialect().is_async:
        _run_coroutine_blocking(_run_async(url))
    else:
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as sync_connection:
            _run_sync(sync_connection)
            sync_connection.commit()
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
