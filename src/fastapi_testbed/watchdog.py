"""aiosqlite connections whose thread died: fail what waits on them instead of hanging the run.

aiosqlite runs each connection's calls in a thread of its own and hands every result to the
event loop that asked, with ``loop.call_soon_threadsafe``. When that loop is closed first (a test
that did not await a request ends, and its runner closes its loop while a statement is still
running: waiting on a lock, say), the call raises, and the thread dies with the connection still
open (aiosqlite issue #241). Every later call on that connection is queued for a thread that is
gone and waits forever: the plugin closing the test's connection, the next test checking it out,
the end of the run.

So the plugin keeps a weak set of the aiosqlite connections its engines open and, while there are
any, a daemon thread looks at them every :data:`INTERVAL` seconds. A connection whose thread died
is marked closed (the way aiosqlite marks one it closed), its SQLite connection is closed (which
rolls back and releases its locks), and every call still queued for it fails with aiosqlite's
"Connection closed" (``ValueError``, which SQLAlchemy's adapter reports as a closed connection).
A pool checkout also looks first, so the pool replaces a dead connection instead of handing it
out. The dead thread's own traceback is left to pytest, which reports it as an unhandled thread
exception.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from contextlib import suppress
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

__all__ = ["INTERVAL", "dead", "guard_aiosqlite", "reap"]

INTERVAL = 0.1  # seconds between two looks

_watched: weakref.WeakSet[Any] = weakref.WeakSet()  # aiosqlite.Connection objects
_lock = threading.Lock()
_thread: threading.Thread | None = None


def guard_aiosqlite(engine: Engine) -> None:
    """Watch the aiosqlite connections ``engine`` opens; never check out one whose thread died."""
    if engine.dialect.driver != "aiosqlite":
        return

    @event.listens_for(engine, "connect")
    def _watch(dbapi_connection: Any, _record: Any) -> None:
        driver = getattr(dbapi_connection, "_connection", None)  # SQLAlchemy's adapter
        if driver is not None:
            watch(driver)

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dead(dbapi_connection):
            raise exc.DisconnectionError("its aiosqlite thread died")  # the pool opens another


def watch(connection: Any) -> None:
    """Look after ``connection`` (an ``aiosqlite.Connection``) until it is garbage."""
    global _thread
    with _lock:
        _watched.add(connection)
        if _thread is None:
            _thread = threading.Thread(target=_look, name="fastapi-testbed-watchdog", daemon=True)
            _thread.start()


def _look() -> None:
    global _thread
    while True:
        time.sleep(INTERVAL)
        with _lock:
            connections = list(_watched)
            if not connections:
                _thread = None
                return
        for connection in connections:
            reap(connection)
        del connections


def dead(dbapi_connection: Any) -> bool:
    """True if ``dbapi_connection`` (SQLAlchemy's adapter) wraps an aiosqlite connection whose
    thread died (which :func:`reap` has then ended)."""
    return reap(getattr(dbapi_connection, "_connection", None))


def reap(connection: Any) -> bool:
    """True if ``connection``'s thread died; then end it, and fail the calls queued for it."""
    if not type(connection).__module__.startswith("aiosqlite"):
        return False
    worker = getattr(connection, "_thread", connection)  # before aiosqlite 0.21 it is the thread
    if not isinstance(worker, threading.Thread) or worker.ident is None or worker.is_alive():
        return False
    connection._running = False  # new calls fail at once ("Connection closed")
    sqlite, connection._connection = getattr(connection, "_connection", None), None
    if sqlite is not None:
        with suppress(Exception):  # a connection tied to its thread is closed when collected
            sqlite.close()
    waiting = getattr(connection, "_tx", None)
    while waiting is not None:
        try:
            future, _call = waiting.get_nowait()
        except queue.Empty:
            break
        if future is not None:
            _fail(future)
    return True


def _fail(future: Any) -> None:
    def fail() -> None:
        if not future.done():
            future.set_exception(ValueError("Connection closed"))

    with suppress(RuntimeError):  # its loop is closed as well: nobody waits on it
        future.get_loop().call_soon_threadsafe(fail)
