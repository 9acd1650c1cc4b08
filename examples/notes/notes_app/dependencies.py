"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from notes_app.dao import NoteDAO, UserDAO
from notes_app.db import get_db
from notes_app.models import User
from notes_app.security import TokenError, TokenType, decode_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token/")

DbSession = Annotated[AsyncSession, Depends(get_db)]


def get_user_dao(db: DbSession) -> UserDAO:
    return UserDAO(db)


def get_note_dao(db: DbSession) -> NoteDAO:
    return NoteDAO(db)


Users = Annotated[UserDAO, Depends(get_user_dao)]
Notes = Annotated[NoteDAO, Depends(get_note_dao)]


def credentials_error(detail: str = "Could not validate credentials") -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)], users: Users) -> User:
    """The user named by a valid access token; 401 otherwise."""
    try:
        user_id = int(decode_token(token, TokenType.ACCESS))
    except (TokenError, ValueError) as exc:
        raise credentials_error() from exc
    user = await users.get_user_by_id(user_id)
    if user is None:
        raise credentials_error()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
