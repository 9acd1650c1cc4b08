"""override() and login_as(): dependency overrides for one test, restored exactly."""

from __future__ import annotations

from fastapi_testbed.fakes.overrides import LOGIN_AS_NEEDS_DEPENDENCY
from tests.conftest import Project
from tests.fakes.conftest import assert_in_output, build

ROUTES = """
from fastapi import Header


def get_current_user(authorization: str = Header()):
    raise HTTPException(401, "real token check")


def get_greeting():
    return "hello"


@app.get("/me")
async def me(user=Depends(get_current_user), greeting=Depends(get_greeting)):
    return {"name": user.name, "greeting": greeting}


@app.get("/greeting")
async def greeting(greeting=Depends(get_greeting)):
    return greeting
"""

TESTS = """
from tbapp.main import app, get_greeting
from tbapp.models import Item


async def test_1_login_as_a_row(client, db_session, login_as):
    ada = Item(name="ada")
    db_session.add(ada)
    await db_session.commit()
    login_as(ada)
    assert (await client.get("/me")).json() == {"name": "ada", "greeting": "hello"}


async def test_2_logged_out_again(client):
    response = await client.get("/me", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


async def test_3_override_restores_exactly(client, override):
    app.dependency_overrides[get_greeting] = lambda: "set by the test"
    with override(get_greeting, "hi"):  # a value: wrapped in a function
        assert (await client.get("/greeting")).json() == "hi"
    assert (await client.get("/greeting")).json() == "set by the test"
    override(get_greeting, lambda: "bye")
    assert (await client.get("/greeting")).json() == "bye"


def test_4_sync_client(sync_client, override, login_as):
    class Someone:
        name = "bob"

    login_as(Someone())
    override(get_greeting, "hey")
    assert sync_client.get("/me").json() == {"name": "bob", "greeting": "hey"}
"""


def test_override_and_login_as(sqlite_or_pg_project: Project) -> None:
    build(
        sqlite_or_pg_project,
        TESTS,
        routes=ROUTES,
        extra='current_user = "tbapp.main:get_current_user"',
    )
    sqlite_or_pg_project.run().assert_outcomes(passed=4)


def test_login_as_needs_the_dependency(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        from tbapp.main import get_current_user


        async def test_unnamed(client, login_as):
            login_as(object())

        async def test_passed_explicitly(client, login_as):
            class Someone:
                name = "eve"

            login_as(Someone(), dependency=get_current_user)
            assert (await client.get("/me")).json()["name"] == "eve"
        """,
        routes=ROUTES,
    )
    result = sqlite_project.run()
    result.assert_outcomes(passed=1, failed=1)
    assert_in_output(result, LOGIN_AS_NEEDS_DEPENDENCY)
