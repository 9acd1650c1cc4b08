"""`/auth`: register, log in (opaque session token), log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, status

from items_app.api.deps import AuthServiceDep, CurrentSession, CurrentUser
from items_app.schemas.auth import LoginRequest, RegisterRequest, SessionToken, UserRead
from items_app.schemas.common import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=error_responses(409))
async def register(data: RegisterRequest, auth: AuthServiceDep) -> UserRead:
    return UserRead.model_validate(await auth.register(data))


@router.post("/login", responses=error_responses(401))
async def login(data: LoginRequest, auth: AuthServiceDep) -> SessionToken:
    return await auth.login(data)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
async def logout(session: CurrentSession, auth: AuthServiceDep) -> None:
    await auth.logout(session)


@router.get("/me", responses=error_responses(401))
async def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)
