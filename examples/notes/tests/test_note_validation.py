"""Note payloads and ids that the API refuses with 422, leaving the database as it was."""

from __future__ import annotations

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from conftest import AuthenticatedUser
from notes_app.dao import NoteDAO
from notes_app.models import Note

pytestmark = pytest.mark.asyncio

INVALID_NOTES = [
    pytest.param({"body": "no title"}, ["body", "title"], id="missing-title"),
    pytest.param({"title": "no body"}, ["body", "body"], id="missing-body"),
    pytest.param({"title": "", "body": "x"}, ["body", "title"], id="empty-title"),
    pytest.param({"title": "t" * 201, "body": "x"}, ["body", "title"], id="long-title"),
    pytest.param({"title": "t", "body": "b" * 10_001}, ["body", "body"], id="long-body"),
    pytest.param({"title": 1, "body": "x"}, ["body", "title"], id="title-not-a-string"),
]


@pytest_asyncio.fixture
async def note(authenticated_user: AuthenticatedUser, note_dao: NoteDAO) -> Note:
    return await note_dao.create_note(
        title="Kept", body="As is", user_id=authenticated_user.user.id
    )


@pytest.mark.parametrize(("payload", "loc"), INVALID_NOTES)
async def test_create_rejects_invalid_note(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    note_dao: NoteDAO,
    payload: dict[str, object],
    loc: list[str],
) -> None:
    response = sync_client.post("/note/", json=payload, headers=authenticated_user.headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert await note_dao.list_notes_for_user(authenticated_user.user.id) == []


@pytest.mark.parametrize(("payload", "loc"), INVALID_NOTES)
async def test_update_rejects_invalid_note(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    note: Note,
    note_dao: NoteDAO,
    db_session: AsyncSession,
    payload: dict[str, object],
    loc: list[str],
) -> None:
    response = sync_client.put(
        f"/note/{note.note_id}", json=payload, headers=authenticated_user.headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    await db_session.refresh(note)
    assert (note.title, note.body) == ("Kept", "As is")


async def test_create_rejects_a_body_that_is_not_json(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    response = sync_client.post(
        "/note/",
        content=b"title=x&body=y",
        headers={**authenticated_user.headers, "Content-Type": "text/plain"},
    )

    assert response.status_code == 422


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("note_id", ["abc", "1.5"])
async def test_note_id_must_be_an_integer(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, method: str, note_id: str
) -> None:
    response = sync_client.request(
        method,
        f"/note/{note_id}",
        json={"title": "t", "body": "b"} if method == "PUT" else None,
        headers=authenticated_user.headers,
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "note_id"]
