"""Dependencies shared by the routers: the request's session, services, the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from items_app.core.config import Settings, get_settings
from items_app.core.errors import AuthenticationError
from items_app.db.session import get_db
from items_app.models import User, UserSession
from items_app.services.auth import AuthService
from items_app.services.category import CategoryService
from items_app.services.item import ItemService

DbSession = Annotated[AsyncSession, Depends(get_db)]

# auto_error=False: a missing header gets our 401 envelope, not FastAPI's default error.
bearer_scheme = HTTPBearer(auto_error=False, description="The token returned by /auth/login")


def get_item_service(session: DbSession) -> ItemService:
    return ItemService(session)


def get_category_service(session: DbSession) -> CategoryService:
    return CategoryService(session)


def get_auth_service(
    session: DbSession, settings: Annotated[Settings, Depends(get_settings)]
) -> AuthService:
    return AuthService(session, settings)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
CategoryServiceDep = Annotated[CategoryService, Depends(get_category_service)]
AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_current_session(
    auth: AuthServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> UserSession:
    if credentials is None:
        raise AuthenticationError("Missing bearer token")
    return await auth.authenticate(credentials.credentials)


CurrentSession = Annotated[UserSession, Depends(get_current_session)]


async def get_current_user(session: CurrentSession) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(get_current_user)]
