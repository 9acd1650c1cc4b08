"""[tool.testbed] network = "allow": isolation without the outbound guard, for a whole suite."""

from __future__ import annotations

import pytest

from fastapi_testbed.fakes.http import HTTPMock  # imported once, before pytester's runs
from fastapi_testbed.fakes.network import STRAYS
from tests.conftest import Project
from tests.fakes.conftest import assert_in_output, build

assert HTTPMock

# An app that notifies a server outside the machine and swallows the failure, as apps do with
# SMTP: 192.0.2.1 is TEST-NET-1, never routed, so the real attempt fails fast.
SWALLOWED = """
import socket


@app.post("/notify")
def notify():
    try:
        socket.create_connection(("192.0.2.1", 25), timeout=0.2).close()
    except Exception:
        pass  # mail is best effort
    return {"ok": True}
"""

TESTS = """
async def test_notify(client):
    assert (await client.post("/notify")).json() == {"ok": True}


def test_notify_sync(sync_client):
    assert sync_client.post("/notify").json() == {"ok": True}


async def test_stubs_still_answer(client, http_mock):
    http_mock.get("https://api.example.com/x").respond(json={"stubbed": True})
    import httpx

    async with httpx.AsyncClient() as outbound:
        assert (await outbound.get("https://api.example.com/x")).json() == {"stubbed": True}
"""


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_network_allow_turns_the_guard_off(sqlite_project: Project, flavour: str) -> None:
    build(sqlite_project, TESTS, routes=SWALLOWED, flavour=flavour, extra='network = "allow"')
    result = sqlite_project.run()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ['testbed fakes: network: real requests allowed (?tool.testbed? network = "allow")']
    )
    output = result.stdout.str()
    assert "testbed fakes: mail" not in output and "testbed fakes: s3" not in output  # dormant


def test_without_the_switch_a_swallowed_request_fails_at_teardown(sqlite_project: Project) -> None:
    build(sqlite_project, TESTS, routes=SWALLOWED)
    result = sqlite_project.run()
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["testbed fakes: network: real requests fail the test *"])
    assert_in_output(result, STRAYS.format(count=1, requests="  connection to 192.0.2.1:25"))
