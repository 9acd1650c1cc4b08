"""Fail any connection to a host outside the machine, whatever library opens it.

The last line of defence behind the `http_mock` router (which only sees httpx): requests,
urllib3, botocore and aiohttp all end in `socket.connect`, so that is what is guarded::

    guard = NetworkGuard(allowed_hosts=["db.internal"])
    with guard:
        requests.get("https://api.stripe.com")   # raises StrayRequestError
    assert guard.strays == ["connection to api.stripe.com:443"]
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "STRAYS",
    "STRAY_CONNECTION",
    "STRAY_REQUEST",
    "HttpxStrayHook",
    "NetworkGuard",
    "StrayRequestError",
]

STRAY_REQUEST = (
    "The test made a real network request: {request}.\n"
    "Stub it with the http_mock fixture, e.g. http_mock.{verb}({url!r}).respond(200, json=...),"
    " or allow real requests for this test with @pytest.mark.allow_network "
    "(or for a host: [tool.testbed] allowed_hosts = [...])."
)
STRAY_CONNECTION = (
    "The test opened a connection to {address}, outside this machine.\n"
    "httpx requests can be stubbed with the http_mock fixture; for another client (requests, "
    "boto3, aiohttp...) replace it with override(...) or monkeypatch. Or allow real network for "
    "this test with @pytest.mark.allow_network, or for a host with [tool.testbed] allowed_hosts."
)
STRAYS = (
    "The test made {count} real network request(s), which the app may have caught:\n{requests}\n"
    "Stub httpx requests with the http_mock fixture (http_mock.get(url).respond(...)), replace "
    "other clients with override(...) or monkeypatch, or allow real network for this test with "
    "@pytest.mark.allow_network."
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "testserver", "test"})
_RESOLVED: dict[frozenset[str], set[str]] = {}  # allowed hosts -> their addresses


@functools.cache
def _hostname() -> str:
    return socket.gethostname()


class StrayRequestError(AssertionError):
    """A request that no stub answered tried to leave the machine.

    An AssertionError, not an httpx or OSError, so that the app's own error handling
    (retries, `except httpx.HTTPError`) does not hide it.
    """


def stray_message(request: str, verb: str = "get", url: str = "https://...") -> str:
    return STRAY_REQUEST.format(request=request, verb=verb, url=url)


def is_local(host: str) -> bool:
    """Loopback addresses and names: the app's own test servers, the fake SMTP and S3."""
    if not host or host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        return address.is_loopback or address.is_unspecified
    except ValueError:
        return False


class NetworkGuard:
    """Patch `socket.getaddrinfo` and `socket.socket.connect`/`connect_ex` to refuse hosts that
    are not local or allowed: the name lookup is refused too, so no DNS query leaves either.

    Each refused connection is recorded in `strays` (the app may swallow the exception).
    """

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed = {host for host in allowed_hosts if host}
        self.strays: list[str] = []
        self._saved: dict[str, Any] = {}

    def _resolve_allowed(self) -> set[str]:
        key = frozenset(self.allowed)
        addresses = _RESOLVED.get(key)
        if addresses is None:  # once per set of hosts and process, not once per test
            addresses = set(self.allowed)
            for host in self.allowed:
                # an unresolvable allowed host simply allows nothing more
                with contextlib.suppress(OSError):
                    addresses |= {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
            _RESOLVED[key] = addresses
        return addresses

    def check(self, address: Any, family: int) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return  # Unix sockets and the like never leave the machine
        host, port = str(address[0]), address[1]
        if is_local(host) or host in self._addresses or host == self._hostname:
            return
        where = f"{host}:{port}"
        self.strays.append(f"connection to {where}")
        raise StrayRequestError(STRAY_CONNECTION.format(address=where))

    def __enter__(self) -> NetworkGuard:
        self._addresses = self._resolve_allowed()
        self._hostname = _hostname()
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_getaddrinfo = socket.getaddrinfo
        self._saved = {
            "connect": original_connect,
            "connect_ex": original_connect_ex,
            "getaddrinfo": original_getaddrinfo,
        }

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None:
                name = host.decode() if isinstance(host, bytes) else str(host)
                guard.check((name, port), socket.AF_INET)
            return original_getaddrinfo(host, port, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> None:
            guard.check(address, sock.family)
            original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check(address, sock.family)
            return original_connect_ex(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = getaddrinfo
        return self

    def __exit__(self, *exc_info: object) -> None:
        socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
        socket.getaddrinfo = self._saved["getaddrinfo"]


class HttpxStrayHook:
    """Names the URL of a request that would leave the machine, and hands requests to stubs.

    Installed once (starting a respx router in every test costs milliseconds) on the request
    methods of httpx's and httpx2's transports, urllib3's connection pools (so requests too) and
    aiohttp's `ClientSession`. While `guard` is set (tests that do not stub with `http_mock`) a
    request to a host outside the machine fails, naming its URL. While `router` is set (tests
    that do), urllib3 and aiohttp requests are answered by the router's stubs; httpx and httpx2
    requests reach the router through respx's own patches.
    """

    def __init__(self) -> None:
        self.guard: NetworkGuard | None = None
        self.router: Any = None
        self._saved: list[tuple[Any, str, Any]] = []
        self._patched: set[str] = set()

    def check_url(self, method: str, url: str, host: str) -> None:
        guard = self.guard
        if guard is None:
            return
        if is_local(host) or host in guard._addresses or host == guard._hostname:
            return
        where = f"{method} {url}"
        guard.strays.append(where)
        raise StrayRequestError(stray_message(where, verb=method.lower(), url=url.split("?")[0]))

    def check(self, request: Any) -> None:
        """An httpx or httpx2 request."""
        self.check_url(request.method, str(request.url), str(request.url.host))

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def install(self) -> None:
        """Patch the clients imported so far (cheap to call again: each is patched once).

        It never imports a client itself: loading aiohttp for an app that does not use it would
        cost every session a fifth of a second.
        """
        patchers: dict[str, Callable[[Any], None]] = {
            "httpx": lambda module: self._patch_httpx(module),
            "httpx2": lambda module: self._patch_httpx(module),
            "urllib3": lambda module: self._patch_urllib3(module.connectionpool.HTTPConnectionPool),
            "aiohttp": lambda module: self._patch_aiohttp(module.ClientSession),
        }
        for name, patch in patchers.items():
            module = sys.modules.get(name)
            if module is not None and name not in self._patched:
                if name == "urllib3":
                    import urllib3.connectionpool  # noqa: F401  (a submodule of what is loaded)
                patch(module)
                self._patched.add(name)

    def _patch_httpx(self, module: Any) -> None:
        hook = self
        original_sync = module.HTTPTransport.handle_request
        original_async = module.AsyncHTTPTransport.handle_async_request

        def handle_request(transport: Any, request: Any) -> Any:
            hook.check(request)
            return original_sync(transport, request)

        async def handle_async_request(transport: Any, request: Any) -> Any:
            hook.check(request)
            return await original_async(transport, request)

        self._patch(module.HTTPTransport, "handle_request", handle_request)
        self._patch(module.AsyncHTTPTransport, "handle_async_request", handle_async_request)

    def _patch_urllib3(self, pool_class: Any) -> None:
        hook = self
        original = pool_class.urlopen

        def urlopen(pool: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if "://" in url:
                full = url
            else:
                port = f":{pool.port}" if pool.port not in (None, 80, 443) else ""
                full = f"{pool.scheme}://{pool.host}{port}{url}"
            router = hook.router
            if router is not None:
                body = kwargs.get("body", args[0] if args else None)
                headers = kwargs.get("headers", args[1] if len(args) > 1 else None)
                answer = router.answer_urllib3(method, full, headers, body, kwargs)
                if answer is not None:
                    return answer
            else:
                hook.check_url(method, full, str(pool.host))
            return original(pool, method, url, *args, **kwargs)

        self._patch(pool_class, "urlopen", urlopen)

    def _patch_aiohttp(self, session_class: Any) -> None:
        hook = self
        original = session_class._request

        async def _request(session: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
            url = session._build_url(str_or_url)
            if kwargs.get("params"):
                url = url.extend_query(kwargs["params"])
            router = hook.router
            if router is not None:
                answer = await router.answer_aiohttp(session, method, url, kwargs)
                if answer is not None:
                    return answer
            else:
                hook.check_url(method, str(url), str(url.host))
            return await original(session, method, str_or_url, **kwargs)

        self._patch(session_class, "_request", _request)

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)
        self._patched.clear()
