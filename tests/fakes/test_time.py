"""The documented time pattern: time-machine's own fixture moves the clock for app and test."""

from __future__ import annotations

from tests.conftest import Project
from tests.fakes.conftest import build

ROUTES = """
import datetime as dt

import jwt
from fastapi import Header

SECRET = "test-secret"


@app.post("/token")
async def token():
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    return {"token": jwt.encode({"sub": "ada", "exp": expires}, SECRET, algorithm="HS256")}


@app.get("/whoami")
async def whoami(authorization: str = Header()):
    try:
        claims = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        raise HTTPException(401, "token expired")
    return {"sub": claims["sub"]}
"""

TESTS = """
import datetime as dt


async def test_token_expires(client, time_machine):
    time_machine.move_to(dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC), tick=False)
    token = (await client.post("/token")).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    time_machine.shift(dt.timedelta(minutes=29))
    assert (await client.get("/whoami", headers=headers)).status_code == 200
    time_machine.shift(dt.timedelta(minutes=2))
    response = await client.get("/whoami", headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "token expired"})


def test_frozen_clock_with_sync_client_and_database(sync_client, time_machine):
    time_machine.move_to(dt.datetime(2030, 6, 1, tzinfo=dt.UTC), tick=False)
    assert sync_client.post("/items", json={"name": "frozen"}).status_code == 201
    assert sync_client.get("/items").json() == ["frozen"]
"""


def test_time_machine_with_the_plugin(sqlite_or_pg_project: Project) -> None:
    build(sqlite_or_pg_project, TESTS, routes=ROUTES)
    sqlite_or_pg_project.run().assert_outcomes(passed=2)
