"""Stub the app's outbound httpx requests with respx, strictly.

`HTTPMock` is a `respx.MockRouter` that fails on what a loose mock lets through: a request no
stub answers raises `StrayRequestError` (naming the URL and how to stub it) and a stub never
called is reported by `unused_stubs_message()`, unless it was declared `optional=True`::

    with HTTPMock() as http:
        http.get("https://api.github.com/users/ada").respond(200, json={"id": 1})
        http.post("https://hooks.slack.com/x", optional=True).respond(204)
        fetch_profile("ada")
    assert http.unused_stubs_message() is None

Requests to the app under test are never touched: httpx's ASGITransport and Starlette's
TestClient do not go through httpcore, which is what respx patches. Unmatched requests to
loopback hosts pass through to the real network.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi_testbed.fakes.extras import require
from fastapi_testbed.fakes.network import StrayRequestError, is_local, stray_message

respx = require("respx", extra="http", feature="The http_mock fixture")

import httpx  # noqa: E402  (after the extra check, which names what to install)
from respx.models import AllMockedAssertionError, Route  # noqa: E402
from respx.router import MockRouter  # noqa: E402

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

    def stop(self, clear: bool = True, reset: bool = True, quiet: bool = False) -> None:
        self._unused_at_stop = self.unused_stubs()  # stop() drops the routes added since start
        super().stop(clear=clear, reset=reset, quiet=quiet)

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
