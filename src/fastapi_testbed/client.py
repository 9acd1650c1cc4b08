"""HTTP clients for the app: an AsyncClient whose transport runs the app's lifespan.

httpx2 (httpx's maintained successor, which Starlette's TestClient uses) when it is installed,
as it is with the plugin; httpx for a project that has only httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from asgi_lifespan import LifespanManager

from fastapi_testbed.tasks import tasks_left_behind_cancelled

if TYPE_CHECKING:
    import httpx2 as httpx
else:
    try:
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - the plugin depends on httpx2
        import httpx

__all__ = [
    "LifespanTransport",
    "TestbedAsyncClient",
    "httpx",
    "make_async_client",
    "make_sync_client",
    "tasks_left_behind_cancelled",
]


class LifespanTransport(httpx.AsyncBaseTransport):
    """ASGITransport that starts the app's lifespan before its first request.

    The lifespan runs in a task of its own on the test's loop, so startup may happen in an async
    fixture and shutdown in the test's task (anyio forbids exiting a task group elsewhere).
    """

    def __init__(
        self, app: Any, after_request: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.app = app
        self.after_request = after_request
        self._transport: httpx.ASGITransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self.stopped = False

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        """Run the app's startup (once)."""
        if self._transport is not None:
            return
        if self.stopped:  # a request after shutdown (a fixture's teardown): no second lifespan
            self._transport = httpx.ASGITransport(app=self.app)
            return
        ready = asyncio.Event()
        self._stop = asyncio.Event()
        stop = self._stop

        async def serve() -> None:
            async with LifespanManager(self.app) as manager:
                self._transport = httpx.ASGITransport(app=manager.app)
                ready.set()
                await stop.wait()

        self._task = asyncio.get_running_loop().create_task(
            serve(), name="fastapi-testbed-lifespan"
        )
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiter.cancel()
            self._task.result()  # raises the startup error

    async def stop(self) -> None:
        """Run the app's shutdown, if its startup ran."""
        self.stopped = True
        task, self._task = self._task, None
        if task is None or self._stop is None:
            return
        self._stop.set()
        self._transport = None
        await task

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.start()
        assert self._transport is not None
        response = await self._transport.handle_async_request(request)
        if self.after_request is not None:
            await self.after_request()
        return response


class TestbedAsyncClient(httpx.AsyncClient):
    """The ``client`` fixture's class: an AsyncClient that makes further clients of the same app."""

    __test__ = False

    def with_headers(
        self, headers: Mapping[str, str] | None = None, *, cookies: Any = None
    ) -> TestbedAsyncClient:
        """Another client of the same app and lifespan: these headers over this client's own,
        and its own cookies (none unless given), for a second user in the same test::

            bob = client.with_headers({"Authorization": f"Bearer {token}"})
        """
        merged = httpx.Headers(self.headers)
        merged.update(headers or {})
        return type(self)(
            transport=self._transport, base_url=self.base_url, headers=merged, cookies=cookies
        )


def make_async_client(
    app: Any,
    base_url: str | None = None,
    after_request: Callable[[], Awaitable[None]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[TestbedAsyncClient, LifespanTransport]:
    """An AsyncClient for ``app`` and its transport (whose ``stop()`` ends the lifespan)."""
    transport = LifespanTransport(app, after_request)
    client = TestbedAsyncClient(
        transport=transport, base_url=base_url or "http://test", headers=headers
    )
    return client, transport


def make_sync_client(
    app: Any,
    base_url: str | None = None,
    after_request: Callable[[], None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Starlette's TestClient for ``app`` (enter it to run the lifespan), reading after requests."""
    from starlette.testclient import TestClient  # on httpx2, which the plugin installs

    class TestbedClient(TestClient):
        __test__ = False

        def request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().request(*args, **kwargs)
            # the body is read, so the app and its dependencies' teardown are done: the test's
            # sessions now read what the app changed
            if after_request is not None:
                after_request()
            return response

        def with_headers(
            self, headers: Mapping[str, str] | None = None, *, cookies: Any = None
        ) -> Any:
            """Another client of the same app, on this one's portal and lifespan (see
            :meth:`TestbedAsyncClient.with_headers`)."""
            merged = dict(self.headers)
            merged.update(headers or {})
            other = TestbedClient(
                self.app, base_url=str(self.base_url), headers=merged, cookies=cookies
            )
            other._transport = self._transport  # the same portal, app state and lifespan
            return other

    return TestbedClient(app, base_url=base_url or "http://testserver", headers=dict(headers or {}))
