"""Alembic environment: async engine, URL from the caller or from the app's settings.

Where the URL comes from, first match wins:
1. a connection handed over in `config.attributes["connection"]` (programmatic use);
2. `sqlalchemy.url` set in alembic.ini or by the caller (`-x`/`Config.set_main_option`);
3. `DATABASE_URL` through items_app's settings.
Sync URLs are switched to the async driver. SQLite gets batch mode for ALTER TABLE.
"""

from __future__ import annotations

import asyncio
import logging.config
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import items_app.models  # noqa: F401  (registers every table on Base.metadata)
from alembic import context
from alembic.autogenerate.api import AutogenContext
from items_app.core.config import get_settings, to_async_url
from items_app.db.base import Base, UTCDateTime
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    return to_async_url(url)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render app types as plain SQLAlchemy, so revisions do not import items_app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from sqlalchemy.dialects import mysql")
        return 'sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")'
    return False


def configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    url = database_url()
    configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async_migrations())
    else:
        # Called from inside an event loop (e.g. an async test fixture): use a fresh one.
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(asyncio.run, run_async_migrations()).result()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
