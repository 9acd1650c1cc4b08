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
import ipaddress
import socket
from collections.abc import Iterable
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
        addresses = set(self.allowed)
        for host in self.allowed:
            # an unresolvable allowed host simply allows nothing more
            with contextlib.suppress(OSError):
                addresses |= {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
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
        self._hostname = socket.gethostname()
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
    """Names the URL of an httpx request that would leave the machine, for a `NetworkGuard`.

    Installed once on httpx's two transports (starting a respx router in every test costs
    milliseconds); it acts only while `guard` is set, i.e. in tests that do not stub httpx with
    `http_mock` (whose strict router reports strays itself).
    """

    def __init__(self) -> None:
        self.guard: NetworkGuard | None = None
        self._saved: tuple[Any, Any] | None = None

    def check(self, request: Any) -> None:
        guard = self.guard
        if guard is None:
            return
        host = str(request.url.host)
        if is_local(host) or host in guard._addresses or host == guard._hostname:
            return
        where = f"{request.method} {request.url}"
        guard.strays.append(where)
        url = str(request.url.copy_with(query=None))
        raise StrayRequestError(stray_message(where, verb=request.method.lower(), url=url))

    def install(self) -> None:
        if self._saved is not None:
            return
        import httpx

        hook = self
        original_sync = httpx.HTTPTransport.handle_request
        original_async = httpx.AsyncHTTPTransport.handle_async_request

        def handle_request(transport: Any, request: Any) -> Any:
            hook.check(request)
            return original_sync(transport, request)

        async def handle_async_request(transport: Any, request: Any) -> Any:
            hook.check(request)
            return await original_async(transport, request)

        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign,assignment]
        httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign,assignment]
        self._saved = (original_sync, original_async)

    def uninstall(self) -> None:
        if self._saved is None:
            return
        import httpx

        httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request = (  # type: ignore[method-assign]
            self._saved
        )
        self._saved = None
