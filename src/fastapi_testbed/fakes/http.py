"""Stub the app's outbound HTTP requests with respx, strictly, whatever client sends them.

`HTTPMock` is a `respx.MockRouter` that fails on what a loose mock lets through: a request no
stub answers raises `StrayRequestError` (naming the URL and how to stub it) and a stub never
called is reported by `unused_stubs_message()`, unless it was declared `optional=True`::

    with HTTPMock() as http:
        http.get("https://api.github.com/users/ada").respond(200, json={"id": 1})
        http.post("https://hooks.slack.com/x", optional=True).respond(204)
        fetch_profile("ada")
    assert http.unused_stubs_message() is None

One router answers every client: httpx through respx's patch of httpcore, httpx2 through the
same patch of httpcore2 (its fork), and urllib3 (so requests), and aiohttp through the plugin's
hook (`network.HttpxStrayHook`), which converts their requests to httpx's for the router and the
router's responses back (aiohttp's built by aioresponses). Requests to the app under test are
never touched: ASGI transports and Starlette's TestClient do not go through httpcore. Unmatched
requests to loopback hosts pass through to the real network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi_testbed.fakes.extras import require
from fastapi_testbed.fakes.network import StrayRequestError, is_local, stray_message

respx = require("respx", extra="http", feature="The http_mock fixture")

import httpx  # noqa: E402  (after the extra check, which names what to install)
from respx.mocks import HTTPCoreMocker  # noqa: E402
from respx.models import AllMockedAssertionError, PassThrough, Route  # noqa: E402
from respx.router import MockRouter  # noqa: E402

try:
    import httpcore2
except ImportError:  # pragma: no cover - httpx2 comes with the plugin
    httpcore2 = None  # type: ignore[assignment]


class HTTPCore2Mocker(HTTPCoreMocker):
    """respx's httpcore mocker, aimed at httpcore2: the transport under httpx2."""

    name = "httpcore2"
    targets = [target.replace("httpcore.", "httpcore2.", 1) for target in HTTPCoreMocker.targets]

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: Any, target: Any, **kwargs: Any) -> Any:
        return httpcore2.Response(
            status=httpx_response.status_code,
            headers=httpx_response.headers.raw,
            content=httpx_response.stream,
            extensions=httpx_response.extensions,
        )


def _content(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return None  # a file or a generator: the stub matches on the URL and method alone


__all__ = ["UNUSED_STUBS", "HTTPMock", "describe_route"]

UNUSED_STUBS = (
    "{count} HTTP stub(s) were never called:\n{routes}\n"
    "The app did not make the request the test expected. Remove the stub, fix its URL, or "
    "declare it optional: http_mock.get(url, optional=True)."
)


def describe_route(route: Route) -> str:
    """`GET https://api.example.com/users/1` for plain stubs, respx's pattern otherwise."""
    leaves = {pattern.key: pattern for pattern in route.pattern}
    simple = all(p.lookup.value == "eq" for p in leaves.values())
    if simple and set(leaves) <= {"method", "scheme", "host", "port", "path"} and "host" in leaves:
        scheme = leaves["scheme"].value if "scheme" in leaves else "http(s)"
        port = f":{leaves['port'].value}" if "port" in leaves else ""
        path = leaves["path"].value if "path" in leaves else "/*"
        method = leaves["method"].value if "method" in leaves else "ANY"
        text = f"{method} {scheme}://{leaves['host'].value}{port}{path}"
    else:
        text = repr(route.pattern)
    return f"{text} (name={route.name!r})" if route.name else text


class HTTPMock(MockRouter):
    """A strict respx router: see the module docstring."""

    def __init__(self, base_url: str | None = None, *, allow_unmatched: bool = False) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=True, base_url=base_url)
        self.allow_unmatched = allow_unmatched  # let requests no stub matches go out
        self.strays: list[str] = []
        self._optional: list[Route] = []
        self._loopback: Route | None = None  # made on first use: most tests never need it
        self._unused_at_stop: list[Route] | None = None

    def route(self, *patterns: Any, name: str | None = None, optional: bool = False,
              **lookups: Any) -> Route:  # fmt: skip
        """Add a stub; `optional=True` lets the test pass when it is not called."""
        route: Route = super().route(*patterns, name=name, **lookups)
        if optional:
            self._optional.append(route)
        return route

    @contextmanager
    def resolver(self, request: httpx.Request) -> Iterator[Any]:
        try:
            with super().resolver(request) as resolved:
                yield resolved
                if resolved.route is None and (self.allow_unmatched or is_local(request.url.host)):
                    self._loopback = self._loopback or Route().pass_through()
                    resolved.route, resolved.response = self._loopback, request
        except AllMockedAssertionError:
            where = f"{request.method} {request.url}"
            self.strays.append(where)
            url = str(request.url.copy_with(query=None))
            raise StrayRequestError(
                stray_message(where, verb=request.method.lower(), url=url)
            ) from None

    def start(self) -> None:
        self._unused_at_stop = None
        super().start()
        if httpcore2 is not None:
            HTTPCore2Mocker.register(self)
            HTTPCore2Mocker.start()

    def stop(self, clear: bool = True, reset: bool = True, quiet: bool = False) -> None:
        self._unused_at_stop = self.unused_stubs()  # stop() drops the routes added since start
        if httpcore2 is not None and HTTPCore2Mocker.unregister(self):
            HTTPCore2Mocker.stop()
        super().stop(clear=clear, reset=reset, quiet=quiet)

    # --- clients respx does not patch: their requests and responses converted -----------------
    def answer(self, method: str, url: str, headers: Any, body: Any) -> httpx.Response | None:
        """The stub's response to a request, or None when it passes through to the network."""
        request = httpx.Request(method, url, headers=dict(headers or {}), content=_content(body))
        try:
            return self.handler(request)
        except PassThrough:
            return None

    def answer_urllib3(
        self, method: str, url: str, headers: Any, body: Any, options: dict[str, Any]
    ) -> Any:
        """A urllib3 response for a stubbed request (requests reads it as its own)."""
        import io

        import urllib3

        response = self.answer(method, url, headers, body)
        if response is None:
            return None
        return urllib3.HTTPResponse(
            body=io.BytesIO(response.content),
            headers=urllib3.HTTPHeaderDict(
                [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
            ),
            status=response.status_code,
            reason=response.reason_phrase,
            preload_content=options.get("preload_content", True),
            decode_content=False,
            request_method=method,
            request_url=url,
        )

    async def answer_aiohttp(self, session: Any, method: str, url: Any, options: Any) -> Any:
        """An aiohttp ClientResponse for a stubbed request, built by aioresponses."""
        data = options.get("json")
        body: Any = options.get("data")
        headers = dict(session.headers or {}) | dict(options.get("headers") or {})
        if data is not None:
            import json

            body = json.dumps(data)
            headers.setdefault("content-type", "application/json")
        response = self.answer(method, str(url), headers, body)
        if response is None:
            return None
        from aioresponses.core import RequestMatch

        match = RequestMatch(
            url,
            method=method,
            response_class=_stub_response_class(),
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("content-type", "application/json"),
            headers={k: v for k, v in response.headers.items() if k != "content-type"},
            reason=response.reason_phrase,
        )
        return await match.build_response(url, headers=headers)

    def unused_stubs(self) -> list[Route]:
        """Stubs not called (and not optional); still known after the router stopped."""
        if self._unused_at_stop is not None:
            return self._unused_at_stop
        return [
            route
            for route in self.routes
            if not route.called and not any(route is opt for opt in self._optional)
        ]

    def unused_stubs_message(self) -> str | None:
        """The failure message for stubs never called, or None when all were."""
        unused = self.unused_stubs()
        if not unused:
            return None
        routes = "\n".join(f"  {describe_route(route)}" for route in unused)
        return UNUSED_STUBS.format(count=len(unused), routes=routes)


def _stub_response_class() -> type[Any]:
    """aiohttp's ClientResponse as aioresponses builds it (3.14 added `stream_writer`)."""
    import inspect
    from unittest.mock import Mock

    import aiohttp

    if "stream_writer" not in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        return aiohttp.ClientResponse

    class StubResponse(aiohttp.ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", Mock())  # nothing was written: no real writer
            super().__init__(method, url, **kwargs)

    return StubResponse
