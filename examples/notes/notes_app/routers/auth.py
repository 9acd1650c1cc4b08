"""Registration, login and token refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from notes_app.dao import UsernameTakenError
from notes_app.dependencies import Users, credentials_error
from notes_app.schemas import (
    AccessTokenDTO,
    MessageDTO,
    RefreshTokenDTO,
    TokenPairDTO,
    UserCreateDTO,
)
from notes_app.security import (
    TokenError,
    TokenType,
    create_access_token,
    create_refresh_token,
    decode_token,
    hash_password,
    verify_password,
)

router = APIRouter(tags=["auth"])

USERNAME_TAKEN = "Username already registered"


@router.post("/register/")
async def register(payload: UserCreateDTO, users: Users) -> MessageDTO:
    if await users.get_user_by_username(payload.username) is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=USERNAME_TAKEN)
    # bcrypt is deliberately slow: keep it off the event loop.
    hashed_password = await run_in_threadpool(hash_password, payload.password)
    try:
        await users.create(
            username=payload.username,
            full_name=payload.full_name,
            hashed_password=hashed_password,
        )
    except UsernameTakenError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=USERNAME_TAKEN) from exc
    return MessageDTO(message="User created successfully")


@router.post("/token/")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], users: Users
) -> TokenPairDTO:
    user = await users.get_user_by_username(form.username)
    hashed_password = user.hashed_password if user is not None else None
    if user is None or not await run_in_threadpool(verify_password, form.password, hashed_password):
        raise credentials_error("Incorrect username or password")
    subject = str(user.id)
    return TokenPairDTO(
        access_token=create_access_token(subject),
        refresh_token=create_refresh_token(subject),
    )


@router.post("/refresh/")
async def refresh(payload: RefreshTokenDTO, users: Users) -> AccessTokenDTO:
    try:
        user_id = int(decode_token(payload.refresh_token, TokenType.REFRESH))
    except (TokenError, ValueError) as exc:
        raise credentials_error("Invalid refresh token") from exc
    user = await users.get_user_by_id(user_id)
    if user is None:
        raise credentials_error("Invalid refresh token")
    return AccessTokenDTO(access_token=create_access_token(str(user.id)))
