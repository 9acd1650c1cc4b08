"""Note routes refuse callers without a valid access token, and hide other users' notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import pytest_asyncio
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from conftest import AuthenticatedUser
from notes_app.config import settings
from notes_app.dao import NoteDAO
from notes_app.models import Note
from notes_app.security import TokenType, create_token

pytestmark = pytest.mark.asyncio

NOTE_ROUTES = [
    ("POST", "/note/"),
    ("GET", "/note/all"),
    ("GET", "/note/{note_id}"),
    ("PUT", "/note/{note_id}"),
    ("DELETE", "/note/{note_id}"),
]
ROUTES_ON_ONE_NOTE = [route for route in NOTE_ROUTES if "{note_id}" in route[1]]
CHANGE = {"title": "Changed", "body": "Changed"}
NOT_FOUND = {"detail": "Note not found"}


@pytest_asyncio.fixture
async def note(authenticated_user: AuthenticatedUser, note_dao: NoteDAO) -> Note:
    return await note_dao.create_note(
        title="Mine", body="Private", user_id=authenticated_user.user.id
    )


def bad_credentials(kind: str, owner: AuthenticatedUser) -> dict[str, str]:
    """Authorization headers that must not open the note routes."""
    subject = str(owner.user.id)
    tokens = {
        "garbage": "not-a-token",
        "refresh-token": owner.refresh_token,
        "expired": create_token(subject, TokenType.ACCESS, timedelta(seconds=-1)),
        "forged": jwt.encode(
            {"sub": subject, "type": "access", "exp": 4102444800},
            "a-different-secret-key-of-32-bytes!",
            algorithm="HS256",
        ),
        "unknown-user": create_token("987654321", TokenType.ACCESS, timedelta(minutes=5)),
    }
    if kind == "missing":
        return {}
    if kind == "not-bearer":
        return {"Authorization": f"Basic {owner.access_token}"}
    return {"Authorization": f"Bearer {tokens[kind]}"}


async def stored_notes(db_session: AsyncSession, note_dao: NoteDAO, user_id: int) -> list[str]:
    """The user's notes as the database has them now, whatever our session cached."""
    db_session.expire_all()
    return [f"{n.title}: {n.body}" for n in await note_dao.list_notes_for_user(user_id)]


@pytest.mark.parametrize(
    "kind",
    ["missing", "not-bearer", "garbage", "refresh-token", "expired", "forged", "unknown-user"],
)
@pytest.mark.parametrize(("method", "path"), NOTE_ROUTES)
async def test_note_routes_need_a_valid_access_token(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    note: Note,
    note_dao: NoteDAO,
    db_session: AsyncSession,
    method: str,
    path: str,
    kind: str,
) -> None:
    response = sync_client.request(
        method,
        path.format(note_id=note.note_id),
        json=CHANGE if method in {"POST", "PUT"} else None,
        headers=bad_credentials(kind, authenticated_user),
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    user_id = authenticated_user.user.id
    assert await stored_notes(db_session, note_dao, user_id) == ["Mine: Private"]


async def test_access_token_expires_after_its_lifetime(
    sync_client: TestClient, authenticated_user: AuthenticatedUser
) -> None:
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    later = datetime.now(UTC) + lifetime + timedelta(seconds=1)

    with time_machine.travel(later, tick=False):
        response = sync_client.get("/note/all", headers=authenticated_user.headers)

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ROUTES_ON_ONE_NOTE)
async def test_another_users_note_is_not_found(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    other_user: AuthenticatedUser,
    note: Note,
    note_dao: NoteDAO,
    db_session: AsyncSession,
    method: str,
    path: str,
) -> None:
    response = sync_client.request(
        method,
        path.format(note_id=note.note_id),
        json=CHANGE if method == "PUT" else None,
        headers=other_user.headers,
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    user_id = authenticated_user.user.id
    assert await stored_notes(db_session, note_dao, user_id) == ["Mine: Private"]


@pytest.mark.parametrize(("method", "path"), ROUTES_ON_ONE_NOTE)
async def test_missing_note_is_not_found(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    note: Note,
    note_dao: NoteDAO,
    method: str,
    path: str,
) -> None:
    await note_dao.delete_note(note)

    response = sync_client.request(
        method,
        path.format(note_id=note.note_id),
        json=CHANGE if method == "PUT" else None,
        headers=authenticated_user.headers,
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_list_holds_only_the_callers_notes_in_creation_order(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    other_user: AuthenticatedUser,
) -> None:
    for author, title in [
        (authenticated_user, "mine 1"),
        (other_user, "theirs 1"),
        (authenticated_user, "mine 2"),
        (other_user, "theirs 2"),
        (authenticated_user, "mine 3"),
    ]:
        created = sync_client.post(
            "/note/", json={"title": title, "body": ""}, headers=author.headers
        )
        assert created.status_code == 200, created.text

    mine = sync_client.get("/note/all", headers=authenticated_user.headers).json()
    theirs = sync_client.get("/note/all", headers=other_user.headers).json()

    assert [note["title"] for note in mine] == ["mine 1", "mine 2", "mine 3"]
    assert {note["user_id"] for note in mine} == {authenticated_user.user.id}
    assert [note["title"] for note in theirs] == ["theirs 1", "theirs 2"]


async def test_new_user_has_no_notes(
    sync_client: TestClient, authenticated_user: AuthenticatedUser, note: Note
) -> None:
    newcomer = sync_client.post(
        "/register/",
        json={"username": "newcomer", "password": "newcomer-password", "full_name": "New"},
    )
    assert newcomer.status_code == 200
    tokens = sync_client.post(
        "/token/", data={"username": "newcomer", "password": "newcomer-password"}
    ).json()

    response = sync_client.get(
        "/note/all", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert response.status_code == 200
    assert response.json() == []


async def test_note_owner_comes_from_the_token_not_the_body(
    sync_client: TestClient,
    authenticated_user: AuthenticatedUser,
    other_user: AuthenticatedUser,
    note_dao: NoteDAO,
) -> None:
    payload = {"title": "Sneaky", "body": "", "user_id": other_user.user.id}

    response = sync_client.post("/note/", json=payload, headers=authenticated_user.headers)

    assert response.status_code == 200
    assert response.json()["user_id"] == authenticated_user.user.id
    assert await note_dao.list_notes_for_user(other_user.user.id) == []
