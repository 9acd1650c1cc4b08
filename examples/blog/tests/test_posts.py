"""/api/posts: reading, pagination, and who may write what."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from httpx2 import AsyncClient

if TYPE_CHECKING:
    from conftest import AuthHeader, CreateUser

pytestmark = pytest.mark.anyio


async def test_get_posts_empty(client: AsyncClient) -> None:
    response = await client.get("/api/posts")

    assert response.status_code == 200
    data = response.json()
    assert data["posts"] == []
    assert data["total"] == 0
    assert data["has_more"] is False


async def test_get_post_not_found(client: AsyncClient) -> None:
    response = await client.get("/api/posts/999")

    assert response.status_code == 404
    assert response.json() == {"detail": "Post not found"}


async def test_create_post_success(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    user = await create_user()
    headers = await auth_header()

    response = await client.post(
        "/api/posts", json={"title": "Test Post", "content": "Test content"}, headers=headers
    )

    assert response.status_code == 201, response.text
    data = response.json()
    assert data["title"] == "Test Post"
    assert data["content"] == "Test content"
    assert data["user_id"] == user["id"]
    assert "id" in data
    assert "date_posted" in data
    assert data["author"]["username"] == "testuser"

    fetched = await client.get(f"/api/posts/{data['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["author"]["id"] == user["id"]


async def test_create_post_unauthorized(client: AsyncClient) -> None:
    response = await client.post("/api/posts", json={"title": "Test Post", "content": "Nope"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


async def test_create_post_with_bad_token(client: AsyncClient) -> None:
    response = await client.post(
        "/api/posts",
        json={"title": "Test Post", "content": "Nope"},
        headers={"Authorization": "Bearer not-a-token"},
    )

    assert response.status_code == 401


async def test_update_post_by_owner(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    await create_user()
    headers = await auth_header()
    created = await client.post(
        "/api/posts", json={"title": "Original", "content": "Original content"}, headers=headers
    )
    post_id = created.json()["id"]

    response = await client.patch(
        f"/api/posts/{post_id}", json={"title": "Updated Title"}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Updated Title"
    assert response.json()["content"] == "Original content"


async def test_update_post_by_another_user(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    await create_user(username="user1", email="user1@example.com")
    headers1 = await auth_header("user1@example.com")
    created = await client.post(
        "/api/posts", json={"title": "User 1 Post", "content": "Mine"}, headers=headers1
    )
    post_id = created.json()["id"]
    await create_user(username="user2", email="user2@example.com")
    headers2 = await auth_header("user2@example.com")

    response = await client.patch(
        f"/api/posts/{post_id}", json={"title": "Hijacked"}, headers=headers2
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Not authorized to update this post"}
    unchanged = await client.get(f"/api/posts/{post_id}")
    assert unchanged.json()["title"] == "User 1 Post"


async def test_delete_post_by_owner_and_by_another_user(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    await create_user(username="owner", email="owner@example.com")
    owner = await auth_header("owner@example.com")
    await create_user(username="other", email="other@example.com")
    other = await auth_header("other@example.com")
    created = await client.post(
        "/api/posts", json={"title": "Short-lived", "content": "Soon gone"}, headers=owner
    )
    post_id = created.json()["id"]

    refused = await client.delete(f"/api/posts/{post_id}", headers=other)
    assert refused.status_code == 403

    deleted = await client.delete(f"/api/posts/{post_id}", headers=owner)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/posts/{post_id}")).status_code == 404


async def test_get_posts_with_pagination(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    await create_user()
    headers = await auth_header()
    for i in range(1, 6):
        response = await client.post(
            "/api/posts", json={"title": f"Post {i}", "content": f"Content {i}"}, headers=headers
        )
        assert response.status_code == 201

    everything = (await client.get("/api/posts")).json()
    assert everything["total"] == 5
    assert len(everything["posts"]) == 5
    assert everything["has_more"] is False
    # Newest first, each with its author.
    assert [post["title"] for post in everything["posts"]] == [f"Post {i}" for i in range(5, 0, -1)]
    assert {post["author"]["username"] for post in everything["posts"]} == {"testuser"}

    first_page = (await client.get("/api/posts", params={"limit": 2})).json()
    assert first_page["total"] == 5
    assert len(first_page["posts"]) == 2
    assert first_page["has_more"] is True

    second_page = (await client.get("/api/posts", params={"skip": 2, "limit": 2})).json()
    assert second_page["total"] == 5
    assert len(second_page["posts"]) == 2
    assert second_page["skip"] == 2
    assert second_page["limit"] == 2
    assert [post["title"] for post in second_page["posts"]] == ["Post 3", "Post 2"]

    last_page = (await client.get("/api/posts", params={"skip": 4, "limit": 2})).json()
    assert len(last_page["posts"]) == 1
    assert last_page["has_more"] is False


async def test_post_validation_error(
    client: AsyncClient, auth_header: AuthHeader, create_user: CreateUser
) -> None:
    await create_user()
    headers = await auth_header()

    response = await client.post("/api/posts", json={"title": "No content"}, headers=headers)

    assert response.status_code == 422
    assert "content" in response.text
