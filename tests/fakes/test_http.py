"""Outbound HTTP: stray requests fail the test, http_mock stubs them, unused stubs fail too."""

from __future__ import annotations

from fastapi_testbed.fakes.extras import MISSING_EXTRA
from fastapi_testbed.fakes.http import UNUSED_STUBS
from fastapi_testbed.fakes.network import STRAY_CONNECTION, STRAY_REQUEST, STRAYS
from tests.conftest import Project
from tests.fakes.conftest import assert_in_output, build

ROUTES = """
import httpx
import urllib.request


@app.get("/weather")
async def weather():
    async with httpx.AsyncClient() as http:
        response = await http.get("https://api.weather.example/today", params={"city": "Oslo"})
    return response.json()


@app.get("/weather-sync")
def weather_sync():
    return httpx.get("https://api.weather.example/today").json()


@app.get("/swallow")
async def swallow():
    try:  # fire-and-forget tracking that hides its errors: the guard still sees it
        async with httpx.AsyncClient() as http:
            await http.post("https://tracker.example/hit")
    except Exception:
        pass
    return {"ok": True}


@app.get("/legacy")
def legacy():
    try:  # not httpx: caught at the socket
        urllib.request.urlopen("http://192.0.2.10/status", timeout=1)
    except Exception:
        pass
    return {"ok": True}
"""

TESTS = """
async def test_stubbed(client, http_mock):
    route = http_mock.get("https://api.weather.example/today").respond(json={"sky": "blue"})
    assert (await client.get("/weather")).json() == {"sky": "blue"}
    assert route.calls.last.request.url.params["city"] == "Oslo"


def test_stubbed_with_sync_client(sync_client, http_mock):
    http_mock.get("https://api.weather.example/today").respond(json={"sky": "grey"})
    assert sync_client.get("/weather-sync").json() == {"sky": "grey"}


async def test_stub_requested_late(client, request):
    # not among the test's arguments: the router takes over from the guard's httpx hook
    http_mock = request.getfixturevalue("http_mock")
    http_mock.get("https://api.weather.example/today").respond(json={"sky": "late"})
    assert (await client.get("/weather")).json() == {"sky": "late"}


async def test_optional_stub_may_stay_unused(client, http_mock):
    http_mock.post("https://tracker.example/hit", optional=True).respond(204)
    assert (await client.get("/state")).status_code == 200


async def test_stray_request(client):
    await client.get("/weather")


async def test_swallowed_stray_request(client):
    assert (await client.get("/swallow")).json() == {"ok": True}


def test_stray_connection_of_another_client(sync_client):
    assert sync_client.get("/legacy").json() == {"ok": True}


async def test_unused_stub(client, http_mock):
    http_mock.get("https://api.weather.example/today").respond(json={})
    http_mock.get("https://api.weather.example/tomorrow", name="tomorrow").respond(json={})
    await client.get("/weather")


@pytest.mark.allow_network
async def test_allow_network(client, http_mock):
    http_mock.get("https://api.weather.example/today").respond(json={"sky": "red"})
    assert (await client.get("/weather")).json() == {"sky": "red"}
"""


def test_outbound_http(sqlite_project: Project) -> None:
    build(sqlite_project, TESTS, routes=ROUTES)
    result = sqlite_project.run("-v")
    result.assert_outcomes(passed=8, failed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*test_stubbed PASSED*",
            "*test_stubbed_with_sync_client PASSED*",
            "*test_stub_requested_late PASSED*",
            "*test_optional_stub_may_stay_unused PASSED*",
            "*test_stray_request FAILED*",
            "*test_swallowed_stray_request PASSED*",
            "*test_swallowed_stray_request ERROR*",
            "*test_stray_connection_of_another_client PASSED*",
            "*test_stray_connection_of_another_client ERROR*",
            "*test_unused_stub PASSED*",
            "*test_unused_stub ERROR*",
            "*test_allow_network PASSED*",
        ]
    )
    stray = "GET https://api.weather.example/today?city=Oslo"
    assert_in_output(
        result,
        STRAY_REQUEST.format(request=stray, verb="get", url="https://api.weather.example/today"),
    )
    strays = "  POST https://tracker.example/hit"
    assert_in_output(result, STRAYS.format(count=1, requests=strays))
    assert_in_output(result, STRAYS.format(count=1, requests="  connection to 192.0.2.10:80"))
    routes = "  GET https://api.weather.example/tomorrow (name='tomorrow')"
    assert_in_output(result, UNUSED_STUBS.format(count=1, routes=routes))
    # the test that failed on the stray request is not reported a second time at teardown
    assert "test_stray_request ERROR" not in result.stdout.str()


def test_stray_connection_message(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        import socket

        def test_connect():
            socket.create_connection(("192.0.2.10", 5432), timeout=1)
        """,
    )
    result = sqlite_project.run()
    result.assert_outcomes(failed=1)
    assert_in_output(result, STRAY_CONNECTION.format(address="192.0.2.10:5432"))


def test_allowed_hosts(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        import socket

        def test_connect():
            try:
                socket.create_connection(("192.0.2.10", 9), timeout=0.2)
            except OSError:  # not a StrayRequestError: the connection was really tried
                pass
        """,
        extra='allowed_hosts = ["192.0.2.10"]',
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_missing_http_extra(sqlite_project: Project, without) -> None:  # type: ignore[no-untyped-def]
    without("respx")
    build(
        sqlite_project,
        """
        def test_stub(http_mock):
            pass

        def test_guard_still_works(sync_client):
            sync_client.get("/legacy")
        """,
        routes=ROUTES,
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=1, errors=2)
    missing = MISSING_EXTRA.format(feature="The http_mock fixture", package="respx", extra="http")
    assert_in_output(result, missing)
    assert_in_output(result, STRAYS.format(count=1, requests="  connection to 192.0.2.10:80"))


def test_dormant_without_testbed_table(pytester) -> None:  # type: ignore[no-untyped-def]
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import socket

        def test_no_guard_without_tool_testbed():
            try:
                socket.create_connection(("192.0.2.10", 9), timeout=0.2)
            except OSError:
                pass
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


CLIENT_ROUTES = """
import aiohttp
import httpx
import httpx2
import requests
import urllib3

URL = "https://api.rates.example/eur?to=usd"


async def with_httpx():
    async with httpx.AsyncClient() as http:
        return (await http.get(URL)).json()


async def with_httpx2():
    async with httpx2.AsyncClient() as http:
        return (await http.get(URL)).json()


def with_requests():
    return requests.get(URL, timeout=2).json()


def with_urllib3():
    import json

    return json.loads(urllib3.PoolManager().request("GET", URL).data)


async def with_aiohttp():
    async with aiohttp.ClientSession() as session:
        async with session.get(URL) as response:
            return await response.json()


CLIENTS = {
    "httpx": with_httpx, "httpx2": with_httpx2, "requests": with_requests,
    "urllib3": with_urllib3, "aiohttp": with_aiohttp,
}


@app.get("/rate/{library}")
async def rate(library: str):
    import inspect

    result = CLIENTS[library]()
    return await result if inspect.isawaitable(result) else result
"""

CLIENT_TESTS = """
import pytest

LIBRARIES = ["httpx", "httpx2", "requests", "urllib3", "aiohttp"]


@pytest.mark.parametrize("library", LIBRARIES)
async def test_stub_answers(client, http_mock, library):
    route = http_mock.get("https://api.rates.example/eur").respond(json={"usd": 1.1})
    assert (await client.get(f"/rate/{library}")).json() == {"usd": 1.1}
    assert route.calls.last.request.url.params["to"] == "usd"


@pytest.mark.parametrize("library", LIBRARIES)
async def test_stray_request(client, library):
    await client.get(f"/rate/{library}")


@pytest.mark.parametrize("library", LIBRARIES)
async def test_unused_stub(client, http_mock, library):
    http_mock.get("https://api.rates.example/gbp")
"""


def test_every_client_is_stubbed_and_guarded_alike(sqlite_project: Project) -> None:
    build(sqlite_project, CLIENT_TESTS, routes=CLIENT_ROUTES)
    result = sqlite_project.run("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=10, failed=5, errors=5)
    for library in ("httpx", "httpx2", "requests", "urllib3", "aiohttp"):
        result.stdout.fnmatch_lines(
            [
                f"*test_stub_answers?{library}? PASSED*",
                f"*test_stray_request?{library}? FAILED*",
                f"*test_unused_stub?{library}? ERROR*",
            ],
            consecutive=False,
        )
    stray = "GET https://api.rates.example/eur?to=usd"
    assert_in_output(
        result, STRAY_REQUEST.format(request=stray, verb="get", url="https://api.rates.example/eur")
    )
    assert "connection to" not in result.stdout.str()  # every stray is named by its URL
