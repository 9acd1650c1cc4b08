"""/api/users: sign-up, login, profile picture in S3, and the password-reset mail."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import AsyncMock, patch
from urllib.parse import parse_qs, urlsplit

import pytest
from blog_app.config import settings
from httpx2 import AsyncClient
from PIL import Image

if TYPE_CHECKING:
    from conftest import AuthHeader, CreateUser

pytestmark = pytest.mark.anyio

TEST_IMAGE = Path(__file__).parent / "test_image.jpg"


def reset_token_from(mail: Any) -> str:
    """The `token` query parameter of the reset link in a captured mail."""
    return parse_qs(urlsplit(mail.link("/reset-password")).query)["token"][0]


async def test_user_validation_error(client: AsyncClient) -> None:
    response = await client.post("/api/users", json={"username": "testuser"})

    assert response.status_code == 422
    assert "email" in response.text
    assert "password" in response.text


async def test_create_user_duplicate_email(client: AsyncClient, create_user: CreateUser) -> None:
    await create_user()

    response = await client.post(
        "/api/users",
        json={"username": "another", "email": "test@example.com", "password": "different123"},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Email already registered"}


async def test_create_user_duplicate_username(client: AsyncClient, create_user: CreateUser) -> None:
    await create_user()

    response = await client.post(
        "/api/users",
        json={"username": "testuser", "email": "other@example.com", "password": "different123"},
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Username already taken"}


async def test_create_user_success(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users",
        json={"username": "newuser", "email": "new@example.com", "password": "securepass123"},
    )

    assert response.status_code == 201, response.text
    data = response.json()
    assert data["username"] == "newuser"
    assert data["email"] == "new@example.com"
    assert "id" in data
    assert "image_path" in data
    assert "password" not in data
    assert "password_hash" not in data


async def test_login_me_and_public_profile(
    client: AsyncClient, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    user = await create_user()

    wrong = await client.post(
        "/api/users/token", data={"username": "test@example.com", "password": "wrong-password"}
    )
    assert wrong.status_code == 401

    me = await client.get("/api/users/me", headers=await auth_header())
    assert me.status_code == 200
    assert me.json()["email"] == "test@example.com"

    public = await client.get(f"/api/users/{user['id']}")
    assert public.status_code == 200
    assert public.json()["username"] == "testuser"
    assert "email" not in public.json()
    assert (await client.get("/api/users/999")).status_code == 404


async def test_upload_profile_picture(
    client: AsyncClient, s3: Any, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    user = await create_user()
    headers = await auth_header()
    image_bytes = TEST_IMAGE.read_bytes()

    response = await client.patch(
        f"/api/users/{user['id']}/picture",
        files={"file": ("profile.jpg", BytesIO(image_bytes), "image/jpeg")},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    data = response.json()
    assert data["image_file"] is not None
    assert data["image_file"].endswith(".jpg")
    assert data["image_path"].endswith(f"/profile_pics/{data['image_file']}")
    assert settings.s3_bucket_name in data["image_path"]

    stored = s3.list_objects_v2(Bucket=settings.s3_bucket_name)["Contents"]
    assert [obj["Key"] for obj in stored] == [f"profile_pics/{data['image_file']}"]
    body = s3.get_object(Bucket=settings.s3_bucket_name, Key=stored[0]["Key"])["Body"].read()
    with Image.open(BytesIO(body)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (settings.picture_size, settings.picture_size)


async def test_replacing_picture_deletes_the_old_one(
    client: AsyncClient, s3: Any, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    user = await create_user()
    headers = await auth_header()
    url = f"/api/users/{user['id']}/picture"
    upload = {"file": ("profile.jpg", TEST_IMAGE.read_bytes(), "image/jpeg")}

    first = (await client.patch(url, files=upload, headers=headers)).json()
    second = (await client.patch(url, files=upload, headers=headers)).json()

    assert first["image_file"] != second["image_file"]
    stored = s3.list_objects_v2(Bucket=settings.s3_bucket_name)["Contents"]
    assert [obj["Key"] for obj in stored] == [f"profile_pics/{second['image_file']}"]


async def test_upload_picture_rejects_non_image(
    client: AsyncClient, s3: Any, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    user = await create_user()

    response = await client.patch(
        f"/api/users/{user['id']}/picture",
        files={"file": ("notes.jpg", b"certainly not a JPEG", "image/jpeg")},
        headers=await auth_header(),
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid image file"}
    assert s3.list_objects_v2(Bucket=settings.s3_bucket_name)["KeyCount"] == 0


async def test_upload_picture_for_another_user(
    client: AsyncClient, s3: Any, create_user: CreateUser, auth_header: AuthHeader
) -> None:
    victim = await create_user(username="victim", email="victim@example.com")
    await create_user(username="intruder", email="intruder@example.com")

    response = await client.patch(
        f"/api/users/{victim['id']}/picture",
        files={"file": ("profile.jpg", TEST_IMAGE.read_bytes(), "image/jpeg")},
        headers=await auth_header("intruder@example.com"),
    )

    assert response.status_code == 403
    assert s3.list_objects_v2(Bucket=settings.s3_bucket_name)["KeyCount"] == 0


async def test_forgot_password_sends_reset_mail(
    client: AsyncClient, mail_outbox: list[Any], create_user: CreateUser
) -> None:
    await create_user()

    response = await client.post("/api/users/forgot-password", json={"email": "test@example.com"})

    # The background task has run by the time the in-process client returns.
    assert response.status_code == 202
    assert len(mail_outbox) == 1
    mail = mail_outbox[0]
    assert "test@example.com" in mail.to
    assert mail.subject == "Reset your password"
    assert "testuser" in mail.text
    assert reset_token_from(mail)


async def test_forgot_password_background_task(
    client: AsyncClient, create_user: CreateUser
) -> None:
    await create_user()

    # Patch the name where the router looks it up, not where it is defined.
    with patch(
        "blog_app.routers.users.send_password_reset_email", new_callable=AsyncMock
    ) as mock_send:
        response = await client.post(
            "/api/users/forgot-password", json={"email": "test@example.com"}
        )

    assert response.status_code == 202
    mock_send.assert_awaited_once()
    email, username, token = mock_send.await_args.args
    assert email == "test@example.com"
    assert username == "testuser"
    assert token


async def test_forgot_password_unknown_email(client: AsyncClient, mail_outbox: list[Any]) -> None:
    response = await client.post("/api/users/forgot-password", json={"email": "nobody@example.com"})

    # Same status as for a real account, and nothing sent.
    assert response.status_code == 202
    assert mail_outbox == []


async def test_reset_password_with_token_from_mail(
    client: AsyncClient, mail_outbox: list[Any], create_user: CreateUser
) -> None:
    await create_user()
    await client.post("/api/users/forgot-password", json={"email": "test@example.com"})
    token = reset_token_from(mail_outbox[0])

    response = await client.post(
        "/api/users/reset-password", json={"token": token, "new_password": "brand-new-pass"}
    )

    assert response.status_code == 200, response.text
    old_login = await client.post(
        "/api/users/token", data={"username": "test@example.com", "password": "testpassword123"}
    )
    assert old_login.status_code == 401
    new_login = await client.post(
        "/api/users/token", data={"username": "test@example.com", "password": "brand-new-pass"}
    )
    assert new_login.status_code == 200
    # A reset token works once: the password it was issued for is gone.
    reused = await client.post(
        "/api/users/reset-password", json={"token": token, "new_password": "another-pass-1"}
    )
    assert reused.status_code == 400
    assert reused.json() == {"detail": "Invalid or expired reset token"}


async def test_reset_password_with_bad_token(client: AsyncClient) -> None:
    response = await client.post(
        "/api/users/reset-password", json={"token": "garbage", "new_password": "brand-new-pass"}
    )

    assert response.status_code == 400
