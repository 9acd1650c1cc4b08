"""/api/users: sign-up, login, profile, picture and password reset."""

from __future__ import annotations

import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, UploadFile, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select

from blog_app import storage
from blog_app.config import settings
from blog_app.email_utils import send_password_reset_email
from blog_app.images import InvalidImageError, make_thumbnail
from blog_app.models import User
from blog_app.schemas import (
    ForgotPasswordRequest,
    Message,
    ResetPasswordRequest,
    Token,
    UserCreate,
    UserPrivate,
    UserPublic,
)
from blog_app.security import (
    CurrentUser,
    DbSession,
    create_access_token,
    create_reset_token,
    hash_password,
    user_from_reset_token,
    verify_password,
)

router = APIRouter(prefix="/api/users", tags=["users"])


async def _user_by_email(db: DbSession, email: str) -> User | None:
    result = await db.execute(select(User).where(func.lower(User.email) == email.lower()))
    return result.scalar_one_or_none()


@router.post("", response_model=UserPrivate, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, db: DbSession) -> User:
    if await _user_by_email(db, body.email) is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Email already registered")
    taken = await db.scalar(select(User.id).where(User.username == body.username))
    if taken is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Username already taken")
    user = User(
        username=body.username,
        email=body.email.lower(),
        password_hash=hash_password(body.password),
    )
    db.add(user)
    await db.commit()
    return user


@router.post("/token", response_model=Token)
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbSession) -> Token:
    """OAuth2 password flow: the form's `username` field carries the e-mail address."""
    user = await _user_by_email(db, form.username)
    if user is None or not verify_password(form.password, user.password_hash):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect email or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=create_access_token(user.id))


@router.get("/me", response_model=UserPrivate)
async def read_me(current_user: CurrentUser) -> User:
    return current_user


@router.post("/forgot-password", response_model=Message, status_code=status.HTTP_202_ACCEPTED)
async def forgot_password(
    body: ForgotPasswordRequest, db: DbSession, background_tasks: BackgroundTasks
) -> Message:
    user = await _user_by_email(db, body.email)
    if user is not None:
        # Looked up in this module at call time, which is where tests patch it.
        background_tasks.add_task(
            send_password_reset_email, user.email, user.username, create_reset_token(user)
        )
    # Same answer either way: the endpoint must not reveal which addresses have accounts.
    return Message(message="If that address has an account, a reset link is on its way.")


@router.post("/reset-password", response_model=Message)
async def reset_password(body: ResetPasswordRequest, db: DbSession) -> Message:
    user = await user_from_reset_token(db, body.token)
    if user is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Invalid or expired reset token")
    user.password_hash = hash_password(body.new_password)
    await db.commit()
    return Message(message="Password updated")


@router.get("/{user_id}", response_model=UserPublic)
async def read_user(user_id: int, db: DbSession) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="User not found")
    return user


@router.patch("/{user_id}/picture", response_model=UserPrivate)
async def update_picture(
    user_id: int, file: UploadFile, current_user: CurrentUser, db: DbSession
) -> User:
    if current_user.id != user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Not authorized to update this user")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Image file too large")
    try:
        thumbnail = await anyio.to_thread.run_sync(make_thumbnail, data, settings.picture_size)
    except InvalidImageError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="Invalid image file") from None

    old_image = current_user.image_file
    new_image = f"{uuid.uuid4().hex}.jpg"
    await storage.upload_picture(new_image, thumbnail)
    current_user.image_file = new_image
    await db.commit()
    if old_image:
        await storage.delete_picture(old_image)
    return current_user
