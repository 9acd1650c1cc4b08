"""Teams through httpx's AsyncClient, as an async test suite for a sync app would do it."""

import pytest
from heroes_app.models import Hero, Team
from httpx2 import AsyncClient
from sqlmodel import Session, select

pytestmark = pytest.mark.anyio


def add_team(session: Session, name: str = "Preventers", headquarters: str = "Sharp Tower") -> Team:
    team = Team(name=name, headquarters=headquarters)
    session.add(team)
    session.commit()
    session.refresh(team)
    return team


def add_hero(session: Session, name: str, team: Team | None = None) -> Hero:
    hero = Hero(name=name, secret_name=f"{name} (secret)", team_id=team.id if team else None)
    session.add(hero)
    session.commit()
    session.refresh(hero)
    return hero


async def test_create_team(client: AsyncClient, db_session: Session) -> None:
    response = await client.post(
        "/teams/", json={"name": "Z-Force", "headquarters": "Sister Margaret's Bar"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "name": "Z-Force", "headquarters": "Sister Margaret's Bar"}
    team = db_session.exec(select(Team).where(Team.name == "Z-Force")).one()
    assert team.id == body["id"]


async def test_create_team_with_a_taken_name_is_409(
    client: AsyncClient, db_session: Session
) -> None:
    add_team(db_session, "Preventers")

    response = await client.post("/teams/", json={"name": "Preventers", "headquarters": "Moon"})

    assert response.status_code == 409
    assert db_session.exec(select(Team)).one().headquarters == "Sharp Tower"


async def test_create_team_without_headquarters_is_422(client: AsyncClient) -> None:
    response = await client.post("/teams/", json={"name": "Preventers"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "headquarters"]


async def test_create_team_with_empty_name_is_422(client: AsyncClient) -> None:
    response = await client.post("/teams/", json={"name": "", "headquarters": "Moon"})

    assert response.status_code == 422


async def test_list_teams(client: AsyncClient, db_session: Session) -> None:
    add_team(db_session, "Preventers")
    add_team(db_session, "Z-Force", "Sister Margaret's Bar")

    response = await client.get("/teams/", params={"limit": 10})

    assert response.status_code == 200
    assert [team["name"] for team in response.json()] == ["Preventers", "Z-Force"]


async def test_read_team_lists_its_heroes(client: AsyncClient, db_session: Session) -> None:
    preventers = add_team(db_session, "Preventers")
    add_hero(db_session, "Rusty-Man", preventers)
    add_hero(db_session, "Spider-Boy", preventers)
    add_hero(db_session, "Deadpond")

    response = await client.get(f"/teams/{preventers.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Preventers"
    assert sorted(hero["name"] for hero in body["heroes"]) == ["Rusty-Man", "Spider-Boy"]


async def test_read_missing_team_is_404(client: AsyncClient) -> None:
    response = await client.get("/teams/424242")

    assert response.status_code == 404
    assert response.json() == {"detail": "Team not found"}


async def test_rename_team(client: AsyncClient, db_session: Session) -> None:
    team = add_team(db_session, "Preventers")
    team_id = team.id

    response = await client.patch(f"/teams/{team_id}", json={"name": "The Preventers"})

    assert response.status_code == 200
    assert response.json() == {
        "id": team_id,
        "name": "The Preventers",
        "headquarters": "Sharp Tower",
    }
    team = db_session.get(Team, team_id)
    assert team is not None
    assert team.name == "The Preventers"


async def test_rename_team_to_a_taken_name_is_409(client: AsyncClient, db_session: Session) -> None:
    add_team(db_session, "Preventers")
    z_force = add_team(db_session, "Z-Force")

    response = await client.patch(f"/teams/{z_force.id}", json={"name": "Preventers"})

    assert response.status_code == 409


async def test_delete_team_releases_its_heroes(client: AsyncClient, db_session: Session) -> None:
    team = add_team(db_session)
    hero = add_hero(db_session, "Rusty-Man", team)
    team_id, hero_id = team.id, hero.id
    assert hero.team_id == team_id  # loaded before the request

    response = await client.delete(f"/teams/{team_id}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert db_session.get(Team, team_id) is None
    hero = db_session.get(Hero, hero_id)
    assert hero is not None
    assert hero.team_id is None


async def test_disband_team_through_core_statements(
    client: AsyncClient, db_session: Session
) -> None:
    preventers = add_team(db_session, "Preventers")
    rusty = add_hero(db_session, "Rusty-Man", preventers)
    spider = add_hero(db_session, "Spider-Boy", preventers)
    bystander = add_team(db_session, "Z-Force")
    deadpond = add_hero(db_session, "Deadpond", bystander)
    # Load everything in the test's session before the app changes it behind the ORM's back.
    assert [rusty.team_id, spider.team_id] == [preventers.id, preventers.id]
    assert preventers.name == "Preventers"
    preventers_id, rusty_id, spider_id = preventers.id, rusty.id, spider.id

    response = await client.post(f"/teams/{preventers_id}/disband")

    assert response.status_code == 200
    assert response.json() == {"team_id": preventers_id, "heroes_released": 2}
    assert db_session.get(Team, preventers_id) is None
    for hero_id in (rusty_id, spider_id):
        hero = db_session.get(Hero, hero_id)
        assert hero is not None
        assert hero.team_id is None
    assert db_session.get(Hero, deadpond.id).team_id == bystander.id  # untouched
    assert (await client.get(f"/teams/{preventers_id}")).status_code == 404


async def test_disband_missing_team_is_404(client: AsyncClient) -> None:
    response = await client.post("/teams/424242/disband")

    assert response.status_code == 404
