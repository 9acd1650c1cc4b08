"""One event loop in a background thread that owns every async driver connection of a session.

asyncpg, aiomysql and psycopg connections belong to the event loop that opened them. Tests run
on loops that pytest-asyncio or anyio create and close (one per test, or one per session), and
Starlette's TestClient runs the app on a loop of its own in another thread. So the plugin opens
its connections on this loop and wraps each driver connection in a proxy that runs the driver's
coroutines here, whichever loop awaits them: the same pooled connection then serves every test,
the seed-000 style (async test + TestClient) works, and "attached to a different loop" cannot
happen.
"""

from __future__ import annotations

import asyncio
import contextvars
import dis
import functools
import inspect
import sys
import threading
import time
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

__all__ = ["LoopThread", "bridged_connect", "driver_connect", "hop_for_dialect"]

T = TypeVar("T")


class LoopThread:
    """The event loop that owns the plugin's async driver connections, and a thread for it.

    A crossing to another thread and back costs two thread wake-ups: 75 to 130 µs on a 2-core
    machine, about a local server's round trip, per statement. So a driver call awaited on a
    test's loop runs this loop right there, in the test's thread, when no other thread is
    running it ("taking the turn"). A call still running after :data:`SLICE` (or when the test
    loop has a timer due sooner: a ``wait_for``, a ``sleep``) is left to the loop's own thread
    while the test's loop goes on, so timeouts still cancel slow queries. The loop's thread runs
    the loop whenever work is pending and no caller does; callers that find the turn taken hand
    their call over, as every call did before. :meth:`close` is bounded: a thread still running
    the loop after 10 seconds is left to finish (its thread is a daemon).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._turn = threading.Lock()  # held by the thread running the loop now
        self._driver: int | None = None  # that thread's ident
        self._work = threading.Event()  # wakes the loop's own thread: work, and nobody on it
        self._closing = False
        # the driver connections opened on this loop, closed with it if nobody else did
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._thread = threading.Thread(
            target=self._serve, name="fastapi-testbed-db-loop", daemon=True
        )
        self._thread.start()

    @property
    def in_thread(self) -> bool:
        """True when called from code the loop is running now (a coroutine or callback of it)."""
        return self._driver == threading.get_ident()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop and block until it is done (from any other thread)."""
        if self.in_thread:
            raise RuntimeError("LoopThread.run() called from its own loop")
        coroutine: Coroutine[Any, Any, T] = (
            awaitable if inspect.iscoroutine(awaitable) else _await(awaitable)
        )
        if self._turn.acquire(blocking=False):
            try:
                task = self._start(coroutine)
                self._drive(task)
            finally:
                self._release()
            return task.result()
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        self._work.set()
        return future.result()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the loop, from whichever loop awaits this."""
        if self.in_thread:
            return await coroutine
        if not self._turn.acquire(blocking=False):
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
            self._work.set()
            return await asyncio.wrap_future(future)
        outer = asyncio.get_running_loop()
        waiter: asyncio.Future[None] | None = None
        try:
            task = self._start(coroutine)
            if not self._drive(task, budget=_budget(outer)):
                waiter = outer.create_future()
                task.add_done_callback(functools.partial(_settle, outer, waiter))
        finally:
            self._release()
        if waiter is not None:  # a slow call: the loop's thread finishes it
            try:
                await waiter
            except BaseException:  # cancelled (a timeout): the driver call is cancelled too
                self.loop.call_soon_threadsafe(task.cancel)
                self._work.set()
                raise
        return task.result()

    def call_sync(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a plain function as code the loop runs (a driver's transport may be touched)."""
        if self.in_thread:
            return function(*args, **kwargs)

        async def invoke() -> T:
            return function(*args, **kwargs)

        return self.run(invoke())

    def close(self) -> None:
        """Finish what is pending on the loop (briefly), stop its thread, close it."""
        loop = self.loop
        if loop.is_closed():
            return
        self._closing = True  # whoever runs the loop now stops at its next turn
        self._work.set()
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(_nothing)  # out of a select() waiting on the network
        if not self._turn.acquire(timeout=10):
            return  # a thread is stuck in the loop: leave it the loop (daemon threads)
        try:
            self._enter()
            try:
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                pending += _close_connections(loop, list(self.connections))
                deadline = time.monotonic() + 5
                while any(not task.done() for task in pending) and time.monotonic() < deadline:
                    wake = loop.call_later(0.05, _nothing)
                    loop._run_once()  # type: ignore[attr-defined]
                    wake.cancel()
                with suppress(Exception):
                    shutdown = loop.create_task(loop.shutdown_asyncgens())
                    while not shutdown.done() and time.monotonic() < deadline:
                        loop._run_once()  # type: ignore[attr-defined]
            finally:
                self._leave()
            loop.close()
        finally:
            self._turn.release()
        self._thread.join(timeout=1)

    # --- running the loop (the turn held) ----------------------------------------------------
    def _start(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        if self.loop.is_closed() or self._closing:
            coroutine.close()
            raise RuntimeError("the plugin's event loop is closed")
        # a context of its own, as the loop's thread would give it: not the caller's
        return self.loop.create_task(coroutine, context=contextvars.Context())

    def _enter(self) -> None:
        self._outer = asyncio._get_running_loop()  # the caller's loop, if its thread runs one
        self._hooks = sys.get_asyncgen_hooks()
        loop = self.loop
        self._driver = threading.get_ident()
        asyncio._set_running_loop(loop)
        sys.set_asyncgen_hooks(
            firstiter=loop._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
            finalizer=loop._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
        )

    def _leave(self) -> None:
        sys.set_asyncgen_hooks(*self._hooks)
        asyncio._set_running_loop(self._outer)
        self._driver = None

    def _drive(self, task: asyncio.Future[Any], budget: float | None = None) -> bool:
        """Run the loop until ``task`` is done (True) or ``budget`` seconds have passed."""
        loop = self.loop
        self._enter()
        wake = None if budget is None else loop.call_later(budget, _nothing)
        try:
            while not task.done():
                if self._closing:
                    task.cancel()
                    raise RuntimeError("the plugin's event loop is closing")
                if wake is not None and wake.when() <= loop.time():
                    return False
                loop._run_once()  # type: ignore[attr-defined]
            return True
        except BaseException:  # Ctrl-C while waiting on the server: the call is abandoned
            task.cancel()
            raise
        finally:
            if wake is not None:
                wake.cancel()
            self._leave()

    def _busy(self) -> bool:
        """Work on the loop: callbacks ready, or tasks not done (the turn held)."""
        loop = self.loop
        return bool(loop._ready) or any(  # type: ignore[attr-defined]
            not task.done() for task in asyncio.all_tasks(loop)
        )

    def _release(self) -> None:
        """Give the turn back; wake the loop's thread if work is left that nobody runs."""
        busy = self._busy()
        self._turn.release()
        if busy:
            self._work.set()

    def _serve(self) -> None:
        """The loop's own thread: runs the loop while work is pending and no caller does."""
        while True:
            self._work.wait()
            self._work.clear()
            if self._closing:
                return
            with self._turn:
                if self._closing or self.loop.is_closed():
                    return
                self._enter()
                try:
                    while not self._closing and self._busy():
                        self.loop._run_once()  # type: ignore[attr-defined]
                except BaseException:  # pragma: no cover - a callback raised through the loop
                    pass
                finally:
                    self._leave()


SLICE = 0.02  # seconds a driver call may hold the test's loop before the loop's thread takes it


def _budget(outer: asyncio.AbstractEventLoop) -> float:
    """How long the test's loop can wait for a driver call: its next timer caps the slice."""
    timers = getattr(outer, "_scheduled", None)
    if not timers or timers[0].cancelled():
        return SLICE
    due: float = timers[0].when() - outer.time()
    return max(0.001, min(SLICE, due))


def _settle(outer: asyncio.AbstractEventLoop, waiter: asyncio.Future[None], _task: Any) -> None:
    """A slow call is done (on the loop's thread): wake its caller's loop."""

    def settle() -> None:
        if not waiter.done():
            waiter.set_result(None)

    with suppress(RuntimeError):  # the caller's loop is gone: nobody waits
        outer.call_soon_threadsafe(settle)


def _nothing() -> None:
    pass


def _close_connections(loop: asyncio.AbstractEventLoop, connections: list[Any]) -> list[Any]:
    """Close the driver connections still open on ``loop`` before it closes; otherwise their
    ``__del__`` closes them on a closed loop later (aiomysql's raises "Event loop is closed").
    asyncpg's ``terminate()`` and aiomysql's ``close()`` close the socket at once; an async
    ``close()`` (psycopg's) becomes a task, returned for the caller to run."""
    tasks = []
    for connection in connections:
        close = getattr(connection, "terminate", None) or getattr(connection, "close", None)
        if close is None or getattr(connection, "closed", False) is True:
            continue
        try:
            result = close()
        except Exception:  # a broken connection: nothing left to close
            continue
        if inspect.iscoroutine(result):
            tasks.append(loop.create_task(result))
    return tasks


# Sync driver methods that touch the socket or the loop; every other sync method (is_closed(),
# transaction(), cursor(), get_attributes()...) only reads or builds Python objects.
TRANSPORT_METHODS = frozenset({"terminate", "close", "abort", "ensure_closed"})

_PROXY_TYPES: dict[type, bool] = {}
_PLAIN = (str, bytes, int, float, bool, list, tuple, dict, set, type(None))


def _needs_proxy(value: Any) -> bool:
    kind = type(value)
    if kind is DriverProxy or isinstance(value, _PLAIN):
        return False
    cached = _PROXY_TYPES.get(kind)
    if cached is None:
        cached = any(
            inspect.iscoroutinefunction(getattr(kind, name, None))
            for name in dir(kind)
            if not name.startswith("__") or name in {"__aenter__", "__aexit__", "__anext__"}
        )
        _PROXY_TYPES[kind] = cached
    return cached


def _wrap(value: Any, loop: LoopThread) -> Any:
    return DriverProxy(value, loop) if _needs_proxy(value) else value


class DriverProxy:
    """Forwards attribute access to a driver object, running its coroutines on the owner loop.

    It passes for the driver's own class (``isinstance(proxy, psycopg.AsyncConnection)``, as
    psycopg's ``TypeInfo.fetch`` checks, which SQLAlchemy calls for hstore) and serves
    ``async with`` and ``async for`` as the object does, each step on the owner loop.
    """

    __slots__ = ("_tb_loop", "_tb_target")

    def __init__(self, target: Any, loop: LoopThread) -> None:
        object.__setattr__(self, "_tb_target", target)
        object.__setattr__(self, "_tb_loop", loop)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # what isinstance() consults when type() does not match
        return type(self._tb_target)

    def __getattr__(self, name: str) -> Any:
        target = self._tb_target
        loop: LoopThread = self._tb_loop
        value = getattr(target, name)
        if not callable(value) or isinstance(value, type):
            return value
        if inspect.iscoroutinefunction(value):

            def call_async(*args: Any, **kwargs: Any) -> Any:
                if _completes_at_once(target, name, value):
                    return _done(_run_at_once(loop, value(*args, **kwargs)), loop)
                return _hop(loop, value(*args, **kwargs))

            return call_async

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in TRANSPORT_METHODS:
                result = loop.call_sync(value, *args, **kwargs)
            else:  # a plain read or a new object: no I/O, safe from any thread (and no hop)
                result = value(*args, **kwargs)
            if inspect.isawaitable(result) and not _needs_proxy(result):
                return _hop(loop, _await(result))
            return _wrap(result, loop)

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._tb_target, name, value)

    def __repr__(self) -> str:
        return f"<DriverProxy {self._tb_target!r}>"

    # Special methods are looked up on the type, never through __getattr__.
    async def __aenter__(self) -> Any:
        target, loop = self._tb_target, self._tb_loop
        if _completes_at_once(target, "__aenter__", target.__aenter__):
            entered = _run_at_once(loop, target.__aenter__())
        else:
            entered = await loop.call(_await(target.__aenter__()))
        return self if entered is self._tb_target else _wrap(entered, self._tb_loop)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await _hop(self._tb_loop, _await(self._tb_target.__aexit__(*exc_info)))

    def __aiter__(self) -> Any:
        iterator = self._tb_target.__aiter__()
        return self if iterator is self._tb_target else DriverProxy(iterator, self._tb_loop)

    async def __anext__(self) -> Any:
        return await _hop(self._tb_loop, _await(self._tb_target.__anext__()))


# --- driver coroutines that need no crossing ---------------------------------------------------
# A hop to the owner loop's thread and back costs two thread wake-ups: 75 to 130 µs on the
# 2-core machine these were measured on, about a local server's round trip. aiomysql's cursor
# alone asks for two that do nothing: entering ``connection.cursor()`` (it awaits a future that
# is already resolved) and ``close`` once the result is read (it only forgets its connection).
# Such a coroutine runs at once, in the caller's thread, with the owner loop as the running loop
# for its length.

_SUSPENDING_OPS = frozenset(
    {"GET_AWAITABLE", "SEND", "YIELD_VALUE", "BEFORE_ASYNC_WITH", "GET_AITER", "GET_ANEXT"}
)
_SUSPENDS: dict[Any, bool] = {}  # code object -> whether it can ever wait


def _suspends(code: Any) -> bool:
    known = _SUSPENDS.get(code)
    if known is None:
        known = any(op.opname in _SUSPENDING_OPS for op in dis.get_instructions(code))
        _SUSPENDS[code] = known
    return known


def _aiomysql_cursor_is_read(cursor: Any) -> bool:
    """An aiomysql buffered cursor whose ``close()`` would not touch the connection."""
    connection = cursor._connection
    result = cursor._result
    return (
        connection is None
        or result is None
        or result is not connection._result
        or not result.has_next
    )


def _aiomysql_cursor_is_made(manager: Any) -> bool:
    """``connection.cursor()``'s context manager: a future aiomysql made already resolved."""
    made = manager._coro
    return isinstance(made, asyncio.Future) and made.done()


def _quiet_test(code: Any) -> Callable[[Any], bool] | None:
    """For a coroutine that waits only in some states, the test for the state where it doesn't."""
    cursors = sys.modules.get("aiomysql.cursors")
    if cursors is None:
        return None
    if code is cursors.Cursor.close.__code__:
        return _aiomysql_cursor_is_read
    if code is sys.modules["aiomysql.utils"]._ContextManager.__aenter__.__code__:
        return _aiomysql_cursor_is_made
    return None


def _completes_at_once(target: Any, name: str, method: Any) -> bool:
    """True when ``method`` of ``target`` (a coroutine function) finishes without waiting."""
    function = getattr(method, "__func__", method)
    if not isinstance(function, types.FunctionType):  # compiled (Cython: asyncmy): unknowable
        return False
    code = function.__code__
    if not _suspends(code):
        return name not in TRANSPORT_METHODS  # a sync close may still touch the transport
    test = _quiet_test(code)
    return test is not None and test(target)


def _run_at_once(loop: LoopThread, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that does not wait, here, as if on ``loop`` (its running loop)."""
    outer = asyncio._get_running_loop()
    asyncio._set_running_loop(loop.loop)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        asyncio._set_running_loop(outer)
    coroutine.close()
    raise RuntimeError(f"{coroutine!r} waited: it cannot run without its event loop")


async def _done(value: Any, loop: LoopThread) -> Any:
    return _wrap(value, loop)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _hop(loop: LoopThread, coroutine: Coroutine[Any, Any, Any]) -> Any:
    return _wrap(await loop.call(coroutine), loop)


def _loop_of(awaitable: Any) -> LoopThread | None:
    """The loop of the driver connection an adapter coroutine of SQLAlchemy's works on, if any.

    SQLAlchemy's async adapters (``_prepare_and_execute``, ``_execute_async``...) await several
    driver calls in one coroutine; run whole, on the connection's loop, they cross once.
    """
    code = getattr(awaitable, "cr_code", None)
    if code is None or code is _hop.__code__ or code is _await.__code__:
        return None
    frame = awaitable.cr_frame
    owner = frame.f_locals.get("self") if frame is not None else None
    if owner is None or type(owner) is DriverProxy:
        return None
    for name in ("_connection", "_cursor", "_adapt_connection"):
        target = getattr(owner, name, None)
        if name == "_adapt_connection" and target is not None:
            target = getattr(target, "_connection", None)
        if type(target) is DriverProxy:
            loop: LoopThread = object.__getattribute__(target, "_tb_loop")
            return loop
    return None


def hop_whole_coroutines(module: Any) -> None:
    """Make ``module``'s ``await_`` (SQLAlchemy's greenlet bridge) run each adapter coroutine
    on its connection's loop in one crossing, instead of one crossing per driver call."""
    original = module.__dict__.get("await_")
    if original is None or getattr(original, "_tb_hopping", False):
        return

    def await_(awaitable: Any) -> Any:
        loop = _loop_of(awaitable)
        if loop is not None and not loop.in_thread:
            awaitable = loop.call(awaitable)
        return original(awaitable)

    await_._tb_hopping = True  # type: ignore[attr-defined]
    module.await_ = await_


def hop_for_dialect(dialect: Any) -> None:
    """Install :func:`hop_whole_coroutines` where ``dialect``'s adapter awaits its driver."""
    import sys

    from sqlalchemy.connectors import asyncio as connectors

    hop_whole_coroutines(connectors)
    for kind in type(dialect).__mro__:
        module = sys.modules.get(kind.__module__)
        if module is not None and module.__name__.startswith("sqlalchemy.dialects."):
            hop_whole_coroutines(module)


def driver_connect(driver: str) -> Callable[..., Awaitable[Any]]:
    """The ``connect`` coroutine function of an async driver, by SQLAlchemy's driver name."""
    if driver == "asyncpg":
        import asyncpg  # type: ignore[import-untyped]

        return asyncpg.connect  # type: ignore[no-any-return]
    if driver == "aiomysql":
        import aiomysql  # type: ignore[import-untyped]

        return aiomysql.connect  # type: ignore[no-any-return]
    if driver == "asyncmy":
        import asyncmy

        return asyncmy.connect
    if driver in {"psycopg", "psycopg_async"}:
        import psycopg

        return psycopg.AsyncConnection.connect
    raise LookupError(driver)


def bridged_connect(
    loop: LoopThread | Callable[[], LoopThread], connect: Callable[..., Awaitable[Any]]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Wrap a driver's ``connect`` so the connection is opened on, and bound to, ``loop``."""

    async def open_on_loop(*args: Any, **kwargs: Any) -> Any:
        owner = loop if isinstance(loop, LoopThread) else loop()

        async def opening() -> Any:
            return await connect(*args, **kwargs)

        connection = await owner.call(opening())
        with suppress(TypeError):  # a driver class without weak references: left to its __del__
            owner.connections.add(connection)
        return DriverProxy(connection, owner)

    return open_on_loop
