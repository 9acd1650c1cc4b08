"""Hero CRUD through Starlette's TestClient: the app is sync, so are these tests."""

from fastapi.testclient import TestClient
from heroes_app.models import Hero, Team
from sqlmodel import Session, select


def add_team(session: Session, name: str = "Preventers", headquarters: str = "Sharp Tower") -> Team:
    team = Team(name=name, headquarters=headquarters)
    session.add(team)
    session.commit()
    session.refresh(team)
    return team


def add_hero(
    session: Session,
    name: str = "Deadpond",
    secret_name: str = "Dive Wilson",
    age: int | None = None,
    team_id: int | None = None,
) -> Hero:
    hero = Hero(name=name, secret_name=secret_name, age=age, team_id=team_id)
    session.add(hero)
    session.commit()
    session.refresh(hero)
    return hero


def test_create_hero(sync_client: TestClient, db_session: Session) -> None:
    response = sync_client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson"})

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Deadpond",
        "secret_name": "Dive Wilson",
        "age": None,
        "team_id": None,
    }
    hero = db_session.get(Hero, body["id"])
    assert hero is not None
    assert hero.secret_name == "Dive Wilson"


def test_create_hero_in_a_team(sync_client: TestClient, db_session: Session) -> None:
    team = add_team(db_session)

    response = sync_client.post(
        "/heroes/",
        json={"name": "Rusty-Man", "secret_name": "Tommy Sharp", "age": 48, "team_id": team.id},
    )

    assert response.status_code == 201
    assert response.json()["team_id"] == team.id
    heroes = db_session.exec(select(Hero).where(Hero.team_id == team.id)).all()
    assert [hero.name for hero in heroes] == ["Rusty-Man"]


def test_create_hero_in_a_missing_team_is_422(sync_client: TestClient, db_session: Session) -> None:
    response = sync_client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", "team_id": 424242}
    )

    assert response.status_code == 422
    assert response.json() == {"detail": "Team 424242 does not exist"}
    assert db_session.exec(select(Hero)).all() == []


def test_create_hero_without_secret_name_is_422(sync_client: TestClient) -> None:
    response = sync_client.post("/heroes/", json={"name": "Deadpond"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "secret_name"]
    assert error["type"] == "missing"


def test_create_hero_with_negative_age_is_422(sync_client: TestClient) -> None:
    response = sync_client.post(
        "/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson", "age": -1}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "age"]


def test_create_hero_with_too_long_name_is_422(
    sync_client: TestClient, db_session: Session
) -> None:
    response = sync_client.post("/heroes/", json={"name": "x" * 101, "secret_name": "Dive Wilson"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_too_long"
    assert db_session.exec(select(Hero)).all() == []


def test_list_heroes_with_offset_and_limit(sync_client: TestClient, db_session: Session) -> None:
    for name in ["Deadpond", "Spider-Boy", "Rusty-Man", "Tarantula", "Black Lion"]:
        add_hero(db_session, name)

    everyone = sync_client.get("/heroes/")
    page = sync_client.get("/heroes/", params={"offset": 1, "limit": 2})

    assert everyone.status_code == 200
    assert [hero["name"] for hero in everyone.json()] == [
        "Deadpond",
        "Spider-Boy",
        "Rusty-Man",
        "Tarantula",
        "Black Lion",
    ]
    assert [hero["name"] for hero in page.json()] == ["Spider-Boy", "Rusty-Man"]


def test_list_heroes_limit_is_capped_at_100(sync_client: TestClient) -> None:
    assert sync_client.get("/heroes/", params={"limit": 101}).status_code == 422
    assert sync_client.get("/heroes/", params={"offset": -1}).status_code == 422


def test_read_hero_includes_its_team(sync_client: TestClient, db_session: Session) -> None:
    team = add_team(db_session)
    hero = add_hero(db_session, "Rusty-Man", team_id=team.id)

    response = sync_client.get(f"/heroes/{hero.id}")

    assert response.status_code == 200
    assert response.json()["team"] == {
        "id": team.id,
        "name": "Preventers",
        "headquarters": "Sharp Tower",
    }


def test_read_missing_hero_is_404(sync_client: TestClient) -> None:
    response = sync_client.get("/heroes/424242")

    assert response.status_code == 404
    assert response.json() == {"detail": "Hero not found"}


def test_update_hero_changes_only_the_given_fields(
    sync_client: TestClient, db_session: Session
) -> None:
    hero = add_hero(db_session, "Spider-Boy", secret_name="Pedro Parqueador", age=15)
    hero_id = hero.id

    response = sync_client.patch(f"/heroes/{hero_id}", json={"age": 16})

    assert response.status_code == 200
    assert response.json()["age"] == 16
    assert response.json()["secret_name"] == "Pedro Parqueador"
    # The test loaded this hero before the request; it sees what the app committed.
    hero = db_session.get(Hero, hero_id)
    assert hero is not None
    assert hero.age == 16


def test_update_hero_into_a_missing_team_is_422(
    sync_client: TestClient, db_session: Session
) -> None:
    hero = add_hero(db_session)

    response = sync_client.patch(f"/heroes/{hero.id}", json={"team_id": 424242})

    assert response.status_code == 422


def test_update_missing_hero_is_404(sync_client: TestClient) -> None:
    assert sync_client.patch("/heroes/424242", json={"age": 1}).status_code == 404


def test_delete_hero(sync_client: TestClient, db_session: Session) -> None:
    hero = add_hero(db_session)
    hero_id = hero.id
    assert hero.name == "Deadpond"  # loaded in the test's session before the request

    response = sync_client.delete(f"/heroes/{hero_id}")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert db_session.get(Hero, hero_id) is None
    assert sync_client.get(f"/heroes/{hero_id}").status_code == 404


def test_delete_missing_hero_is_404(sync_client: TestClient) -> None:
    assert sync_client.delete("/heroes/424242").status_code == 404
