"""Per-test isolation: one rolled-back transaction (default), or real commits then emptied tables.

Both are context managers that need no pytest::

    with TransactionIsolation(engine, loop=loop, is_async=True, sessionmakers=[Maker]) as iso:
        session = iso.session()  # the app's own session class and options, in the transaction
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, AsyncTransaction
from sqlalchemy.orm import Session

from fastapi_testbed.bridge import LoopThread
from fastapi_testbed.engines import AnyEngine, set_sqlite_begin
from fastapi_testbed.errors import CONCURRENT_USE, TestbedError

__all__ = ["Isolation", "SavepointGuard", "TransactionIsolation", "TruncateIsolation", "rebind"]

AnySession = Session | AsyncSession


@contextmanager
def rebind(sessionmakers: Sequence[Any], **options: Any) -> Iterator[None]:
    """Reconfigure sessionmakers for a while, keeping their other options; restore them after."""
    saved = [dict(maker.kw) for maker in sessionmakers]
    try:
        for maker in sessionmakers:
            maker.configure(**options)
        yield
    finally:
        for maker, kw in zip(sessionmakers, saved, strict=True):
            maker.kw.clear()
            maker.kw.update(kw)


SAVEPOINT_SQL = re.compile(
    r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\s+[\"`]?(\w+)", re.IGNORECASE
)


class SavepointGuard:
    """Fails loudly when two sessions interleave on the one test connection.

    Sessions nest savepoints in LIFO order when used one after another; closing a savepoint
    while a later one is still open can only mean concurrent use. It reads the SQL itself:
    SQLAlchemy's savepoint events do not always carry the name.
    """

    def __init__(self, connection: Connection) -> None:
        self.open: list[str] = []
        event.listen(connection, "before_cursor_execute", self._statement)

    def _statement(self, _conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        match = SAVEPOINT_SQL.match(statement)
        if match is None:
            return
        kind, name = match.group(1).upper(), match.group(2)
        if kind == "SAVEPOINT":
            self.open.append(name)
            return
        if name not in self.open:
            return
        index = self.open.index(name)
        inner = self.open[index + 1 :]
        del self.open[index:]
        if inner:
            raise TestbedError(CONCURRENT_USE.format(name=name, inner=inner[-1]))


class Isolation:
    """What both isolations share: sessions made for the test, closed at the end."""

    connection: Connection | AsyncConnection | None = None

    def __init__(
        self,
        engine: AnyEngine,
        *,
        loop: LoopThread,
        is_async: bool,
        sessionmakers: Sequence[Any] = (),
    ) -> None:
        self.engine = engine
        self.loop = loop
        self.is_async = is_async
        self.sessionmakers = list(sessionmakers)
        self._sessions: list[AnySession] = []

    def _bind(self) -> Any:
        return self.connection if self.connection is not None else self.engine

    def session(self) -> Any:
        """A new session inside the isolation, made by the app's first sessionmaker if any."""
        if self.sessionmakers:
            session = self.sessionmakers[0]()
        else:
            factory: Callable[..., AnySession] = AsyncSession if self.is_async else Session
            options: dict[str, Any] = {"bind": self._bind(), "expire_on_commit": False}
            if self.connection is not None:
                options["join_transaction_mode"] = "create_savepoint"
            session = factory(**options)
        self._sessions.append(session)
        return session

    def _close_sessions(self) -> None:
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            if isinstance(session, AsyncSession):
                self.loop.run(session.close())
            else:
                session.close()

    def _start(self) -> dict[str, Any]:
        """Open what the test needs; return the options the sessionmakers get meanwhile."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Undo what :meth:`_start` did."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._rebound = rebind(self.sessionmakers, **self._start())
        self._rebound.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._rebound.__exit__(None, None, None)
            self._close_sessions()
        finally:
            self._finish()


class TransactionIsolation(Isolation):
    """One connection, one transaction, rolled back at the end; app commits become savepoints."""

    _transaction: Any = None

    def _start(self) -> dict[str, Any]:
        engine = self.engine
        if isinstance(engine, AsyncEngine):

            async def start() -> tuple[AsyncConnection, AsyncTransaction]:
                connection = await engine.connect()
                return connection, await connection.begin()

            connection, self._transaction = self.loop.run(start())
            self.connection = connection
            sync_connection = connection.sync_connection
        else:
            self.connection = sync_connection = engine.connect()
            self._transaction = sync_connection.begin()
        assert sync_connection is not None
        self.guard = SavepointGuard(sync_connection)
        return {"bind": self.connection, "join_transaction_mode": "create_savepoint"}

    def _finish(self) -> None:
        connection, self.connection = self.connection, None
        if isinstance(connection, AsyncConnection):

            async def stop() -> None:
                try:
                    if self._transaction.is_active:
                        await self._transaction.rollback()
                finally:
                    await connection.close()

            self.loop.run(stop())
        elif connection is not None:
            try:
                if self._transaction.is_active:
                    self._transaction.rollback()
            finally:
                connection.close()


class TruncateIsolation(Isolation):
    """Real commits on pooled connections; every table emptied after the test."""

    def __init__(self, engine: AnyEngine, *, empty: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._empty = empty

    def _start(self) -> dict[str, Any]:
        # Concurrent SQLite writers that read first would deadlock under a deferred BEGIN
        # ("database is locked" at once); IMMEDIATE makes them wait their turn instead.
        set_sqlite_begin(self.engine, "BEGIN IMMEDIATE")
        # the plugin's engine: its connections serve any event loop (see bridge.py)
        return {"bind": self.engine}

    def _finish(self) -> None:
        set_sqlite_begin(self.engine, "BEGIN")
        self._empty()
