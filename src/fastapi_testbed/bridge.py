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
import concurrent.futures
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "bridged_connect", "driver_connect", "hop_for_dialect"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread until :meth:`close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, name="fastapi-testbed-db-loop", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def in_thread(self) -> bool:
        """True when called from the loop's own thread."""
        return threading.current_thread() is self._thread

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop and block until it is done (from any other thread)."""
        if self.in_thread:
            raise RuntimeError("LoopThread.run() called from its own loop")

        async def main() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(main(), self.loop).result()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the loop, from whichever loop awaits this."""
        if self.in_thread:
            return await coroutine
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return await asyncio.wrap_future(future)

    def call_sync(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a plain function on the loop's thread and return its result."""
        if self.in_thread:
            return function(*args, **kwargs)
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                done.set_result(function(*args, **kwargs))
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return done.result()

    def close(self) -> None:
        """Stop the loop and wait for its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


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
        entered = await self._tb_loop.call(_await(self._tb_target.__aenter__()))
        return self if entered is self._tb_target else _wrap(entered, self._tb_loop)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await _hop(self._tb_loop, _await(self._tb_target.__aexit__(*exc_info)))

    def __aiter__(self) -> Any:
        iterator = self._tb_target.__aiter__()
        return self if iterator is self._tb_target else DriverProxy(iterator, self._tb_loop)

    async def __anext__(self) -> Any:
        return await _hop(self._tb_loop, _await(self._tb_target.__anext__()))


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

        return DriverProxy(await owner.call(opening()), owner)

    return open_on_loop
