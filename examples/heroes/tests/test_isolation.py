"""Nothing a test writes outlives it: not its own commits, not the app's, not the audit trail.

Each writer first checks that it starts from an empty database, so a leak is caught whichever
order the tests run in (pytest-randomly shuffles them); in file order, test_2 and test_4 check
right after a writer.
"""

import pytest
from fastapi.testclient import TestClient
from heroes_app.models import AuditEntry, Hero, Team
from httpx2 import AsyncClient
from sqlmodel import Session, select

EMPTY = {"heroes": 0, "teams": 0, "heroes_without_team": 0, "audit_entries": 0}


def assert_empty(session: Session) -> None:
    assert session.exec(select(Hero)).all() == []
    assert session.exec(select(Team)).all() == []
    assert session.exec(select(AuditEntry)).all() == []


def test_1_writes_through_the_session_and_the_api(
    sync_client: TestClient, db_session: Session
) -> None:
    assert_empty(db_session)

    db_session.add(Team(name="Preventers", headquarters="Sharp Tower"))
    db_session.commit()
    response = sync_client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson"})
    assert response.status_code == 201

    assert len(db_session.exec(select(Team)).all()) == 1
    assert len(db_session.exec(select(Hero)).all()) == 1
    assert len(db_session.exec(select(AuditEntry)).all()) == 1
    assert sync_client.get("/stats").json()["heroes"] == 1


def test_2_finds_nothing_left(sync_client: TestClient, db_session: Session) -> None:
    assert_empty(db_session)
    assert sync_client.get("/heroes/").json() == []
    assert sync_client.get("/teams/").json() == []
    assert sync_client.get("/stats").json() == EMPTY


@pytest.mark.anyio
async def test_3_writes_through_the_async_client(client: AsyncClient, db_session: Session) -> None:
    assert_empty(db_session)

    team = (await client.post("/teams/", json={"name": "Z-Force", "headquarters": "Bar"})).json()
    hero = {"name": "Domino", "secret_name": "Neena Thurman", "team_id": team["id"]}
    assert (await client.post("/heroes/", json=hero)).status_code == 201

    assert (await client.get("/stats")).json() == {
        "heroes": 1,
        "teams": 1,
        "heroes_without_team": 0,
        "audit_entries": 1,
    }


@pytest.mark.anyio
async def test_4_finds_nothing_left_again(client: AsyncClient, db_session: Session) -> None:
    assert_empty(db_session)
    assert (await client.get("/heroes/")).json() == []
    assert (await client.get("/stats")).json() == EMPTY
