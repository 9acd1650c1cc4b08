"""The seed's eight tests: a synchronous client inside async tests, DAOs to check the database."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from conftest import PASSWORD, AuthenticatedUser
from notes_app.dao import NoteDAO, UserDAO
from notes_app.schemas import NoteCreateDTO, RefreshTokenDTO, UserCreateDTO


@pytest.mark.asyncio
async def test_register_user(sync_client: TestClient, user_dao: UserDAO) -> None:
    user_data = UserCreateDTO(username="testuser", password=PASSWORD, full_name="Test User")

    response = sync_client.post("/register/", json=user_data.model_dump())

    assert response.status_code == 200
    assert response.json() == {"message": "User created successfully"}
    user = await user_dao.get_user_by_username("testuser")
    assert user is not None
    assert user.username == "testuser"
    assert user.full_name == "Test User"


@pytest.mark.asyncio
async def test_login_and_get_tokens(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    response = sync_client.post(
        "/token/", data={"username": authenticated_user.user.username, "password": PASSWORD}
    )

    assert response.status_code == 200
    tokens = response.json()
    assert tokens.keys() == {"access_token", "refresh_token", "token_type"}
    assert tokens["token_type"] == "bearer"


@pytest.mark.asyncio
async def test_refresh_access_token(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    refresh = RefreshTokenDTO(refresh_token=authenticated_user.refresh_token)

    response = sync_client.post("/refresh/", json=refresh.model_dump())

    assert response.status_code == 200
    new_tokens = response.json()
    assert new_tokens.keys() == {"access_token", "token_type"}
    assert new_tokens["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {new_tokens['access_token']}"}
    assert sync_client.get("/note/all", headers=headers).status_code == 200


@pytest.mark.asyncio
async def test_create_note(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, note_dao: NoteDAO
) -> None:
    note_data = NoteCreateDTO(title="Test Note", body="This is a test note.")

    response = sync_client.post(
        "/note/", json=note_data.model_dump(), headers=authenticated_user.headers
    )

    assert response.status_code == 200
    response_data = response.json()
    assert response_data["title"] == note_data.title
    assert response_data["body"] == note_data.body
    assert response_data["user_id"] == authenticated_user.user.id
    note = await note_dao.get_note_by_id(response_data["note_id"])
    assert note is not None
    assert note.title == note_data.title
    assert note.body == note_data.body
    assert note.user_id == authenticated_user.user.id


@pytest.mark.asyncio
async def test_get_notes(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, note_dao: NoteDAO
) -> None:
    user_id = authenticated_user.user.id
    await note_dao.create_note(title="Note 1", body="Body 1", user_id=user_id)
    await note_dao.create_note(title="Note 2", body="Body 2", user_id=user_id)

    response = sync_client.get("/note/all", headers=authenticated_user.headers)

    assert response.status_code == 200
    response_data = response.json()
    assert len(response_data) == 2
    assert response_data[0]["title"] == "Note 1"
    assert response_data[1]["title"] == "Note 2"


@pytest.mark.asyncio
async def test_get_note_by_id(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, note_dao: NoteDAO
) -> None:
    note = await note_dao.create_note(
        title="Test Note", body="This is a test note.", user_id=authenticated_user.user.id
    )

    response = sync_client.get(f"/note/{note.note_id}", headers=authenticated_user.headers)

    assert response.status_code == 200
    assert response.json() == {
        "note_id": note.note_id,
        "title": "Test Note",
        "body": "This is a test note.",
        "user_id": authenticated_user.user.id,
    }


@pytest.mark.asyncio
async def test_update_note(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    note_dao: NoteDAO,
    db_session: AsyncSession,
) -> None:
    note = await note_dao.create_note(
        title="Test Note", body="This is a test note.", user_id=authenticated_user.user.id
    )
    updated_note_data = NoteCreateDTO(title="Updated Title", body="Updated Body")

    response = sync_client.put(
        f"/note/{note.note_id}",
        json=updated_note_data.model_dump(),
        headers=authenticated_user.headers,
    )

    assert response.status_code == 200
    response_data = response.json()
    assert response_data["title"] == updated_note_data.title
    assert response_data["body"] == updated_note_data.body
    # The app wrote through its own session: reload our copy of the row.
    await db_session.refresh(note)
    assert (note.title, note.body) == ("Updated Title", "Updated Body")


@pytest.mark.asyncio
async def test_delete_note(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, note_dao: NoteDAO
) -> None:
    note = await note_dao.create_note(
        title="Test Note", body="This is a test note.", user_id=authenticated_user.user.id
    )

    response = sync_client.delete(f"/note/{note.note_id}", headers=authenticated_user.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await note_dao.get_note_by_id(note.note_id) is None
