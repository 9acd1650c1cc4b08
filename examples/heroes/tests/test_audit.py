"""The audit trail is written by a background task, in a session the app opens itself."""

import pytest
from fastapi.testclient import TestClient
from heroes_app.models import AuditEntry, Hero
from httpx2 import AsyncClient
from sqlmodel import Session, select


def test_creating_a_hero_writes_an_audit_entry(
    sync_client: TestClient, db_session: Session
) -> None:
    response = sync_client.post("/heroes/", json={"name": "Deadpond", "secret_name": "Dive Wilson"})
    assert response.status_code == 201

    # The background task ran after the response was sent, and before the client returned.
    [entry] = db_session.exec(select(AuditEntry)).all()
    assert entry.action == "hero.created"
    assert entry.hero_id == response.json()["id"]
    assert entry.created_at is not None


def test_a_rejected_hero_writes_no_audit_entry(
    sync_client: TestClient, db_session: Session
) -> None:
    response = sync_client.post("/heroes/", json={"name": "Deadpond"})

    assert response.status_code == 422
    assert db_session.exec(select(AuditEntry)).all() == []


@pytest.mark.anyio
async def test_the_async_client_waits_for_the_audit_entry(
    client: AsyncClient, db_session: Session
) -> None:
    first = await client.post("/heroes/", json={"name": "Spider-Boy", "secret_name": "Pedro"})
    second = await client.post("/heroes/", json={"name": "Tarantula", "secret_name": "Natalia"})

    entries = db_session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(entry.action, entry.hero_id) for entry in entries] == [
        ("hero.created", first.json()["id"]),
        ("hero.created", second.json()["id"]),
    ]


@pytest.mark.anyio
async def test_deleting_a_hero_writes_an_audit_entry(
    client: AsyncClient, db_session: Session
) -> None:
    hero = Hero(name="Deadpond", secret_name="Dive Wilson")
    db_session.add(hero)
    db_session.commit()
    hero_id = hero.id

    response = await client.delete(f"/heroes/{hero_id}")

    assert response.status_code == 200
    entries = db_session.exec(select(AuditEntry)).all()
    assert [(entry.action, entry.hero_id) for entry in entries] == [("hero.deleted", hero_id)]
