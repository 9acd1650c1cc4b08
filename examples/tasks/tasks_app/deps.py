"""FastAPI dependencies: the request's session, its services and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.db import get_session
from tasks_app.exceptions import AuthenticationError
from tasks_app.models import User
from tasks_app.security import INVALID_TOKEN, decode_token
from tasks_app.services.auth import AuthService
from tasks_app.services.projects import ProjectService
from tasks_app.services.tasks import TaskService
from tasks_app.services.users import UserService

SessionDep = Annotated[AsyncSession, Depends(get_session)]

# auto_error=False: a missing header is answered by our own 401, not FastAPI's default.
_bearer = HTTPBearer(auto_error=False)


async def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The active user named by the `Authorization: Bearer <access token>` header."""
    if credentials is None:
        raise AuthenticationError("Not authenticated")
    user = await session.get(User, decode_token(credentials.credentials, "access"))
    if user is None or not user.is_active:
        raise AuthenticationError(INVALID_TOKEN)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_user_service(session: SessionDep) -> UserService:
    return UserService(session)


def get_auth_service(session: SessionDep) -> AuthService:
    return AuthService(session)


def get_project_service(session: SessionDep) -> ProjectService:
    return ProjectService(session)


def get_task_service(session: SessionDep) -> TaskService:
    return TaskService(session)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
ProjectServiceDep = Annotated[ProjectService, Depends(get_project_service)]
TaskServiceDep = Annotated[TaskService, Depends(get_task_service)]
