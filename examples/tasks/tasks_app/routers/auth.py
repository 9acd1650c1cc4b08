from __future__ import annotations

from fastapi import APIRouter, status

from tasks_app.deps import AuthServiceDep, UserServiceDep
from tasks_app.models import (
    LoginRequest,
    Message,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    User,
    UserCreate,
    UserRead,
)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def register(data: UserCreate, users: UserServiceDep) -> User:
    return await users.create_user(data)


@router.post("/login")
async def login(data: LoginRequest, auth: AuthServiceDep) -> TokenPair:
    return await auth.login(data.email, data.password)


@router.post("/refresh")
async def refresh(data: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    return await auth.refresh(data.refresh_token)


@router.post("/password-reset")
async def request_password_reset(data: PasswordResetRequest, auth: AuthServiceDep) -> Message:
    await auth.request_password_reset(data.email)
    return Message(message="If the address is registered, a reset link is on its way")


@router.post("/password-reset/confirm")
async def confirm_password_reset(data: PasswordResetConfirm, auth: AuthServiceDep) -> Message:
    await auth.confirm_password_reset(data.token, data.new_password)
    return Message(message="Password updated")
