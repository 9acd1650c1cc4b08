"""GET /stats counts on a Core connection of its own (`engine.connect()`)."""

import pytest
from fastapi.testclient import TestClient
from heroes_app.models import Hero, Team
from httpx2 import AsyncClient
from sqlmodel import Session

EMPTY = {"heroes": 0, "teams": 0, "heroes_without_team": 0, "audit_entries": 0}


def test_stats_of_an_empty_database(sync_client: TestClient) -> None:
    response = sync_client.get("/stats")

    assert response.status_code == 200
    assert response.json() == EMPTY


def test_stats_count_what_the_test_committed(sync_client: TestClient, db_session: Session) -> None:
    team = Team(name="Preventers", headquarters="Sharp Tower")
    db_session.add(team)
    db_session.commit()
    db_session.add_all(
        [
            Hero(name="Rusty-Man", secret_name="Tommy Sharp", team_id=team.id),
            Hero(name="Deadpond", secret_name="Dive Wilson"),
            Hero(name="Spider-Boy", secret_name="Pedro Parqueador"),
        ]
    )
    db_session.commit()

    assert sync_client.get("/stats").json() == {
        "heroes": 3,
        "teams": 1,
        "heroes_without_team": 2,
        "audit_entries": 0,
    }


@pytest.mark.anyio
async def test_stats_follow_the_api(client: AsyncClient) -> None:
    team = (await client.post("/teams/", json={"name": "Z-Force", "headquarters": "Bar"})).json()
    for name in ["Deadpond", "Domino"]:
        hero = {"name": name, "secret_name": "?", "team_id": team["id"]}
        assert (await client.post("/heroes/", json=hero)).status_code == 201

    before = (await client.get("/stats")).json()
    await client.post(f"/teams/{team['id']}/disband")
    after = (await client.get("/stats")).json()

    assert before == {"heroes": 2, "teams": 1, "heroes_without_team": 0, "audit_entries": 2}
    assert after == {"heroes": 2, "teams": 0, "heroes_without_team": 2, "audit_entries": 2}
