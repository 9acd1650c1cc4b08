"""Password hashing, access and reset tokens, and the current-user dependency."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from blog_app.config import settings
from blog_app.database import get_db
from blog_app.models import User

_hasher = PasswordHasher.from_parameters(getattr(profiles, settings.argon2_profile))
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/users/token")

ACCESS = "access"
PASSWORD_RESET = "password_reset"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _secret() -> str:
    return settings.secret_key.get_secret_value()


def _encode(subject: int, purpose: str, lifetime: timedelta, **claims: str) -> str:
    now = datetime.now(UTC)
    payload = {"sub": str(subject), "purpose": purpose, "iat": now, "exp": now + lifetime}
    return jwt.encode(payload | claims, _secret(), algorithm=settings.algorithm)


def _decode(token: str, purpose: str) -> dict[str, str] | None:
    try:
        payload = jwt.decode(token, _secret(), algorithms=[settings.algorithm])
    except jwt.PyJWTError:
        return None
    if payload.get("purpose") != purpose or not str(payload.get("sub", "")).isdigit():
        return None
    return payload


def create_access_token(user_id: int) -> str:
    return _encode(user_id, ACCESS, timedelta(minutes=settings.access_token_expire_minutes))


def _password_fingerprint(user: User) -> str:
    # Ties a reset token to the current password, so it stops working once used.
    digest = hmac.new(_secret().encode(), user.password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def create_reset_token(user: User) -> str:
    lifetime = timedelta(minutes=settings.reset_token_expire_minutes)
    return _encode(user.id, PASSWORD_RESET, lifetime, pwd=_password_fingerprint(user))


async def user_from_reset_token(db: AsyncSession, token: str) -> User | None:
    payload = _decode(token, PASSWORD_RESET)
    if payload is None:
        return None
    user = await db.get(User, int(payload["sub"]))
    if user is None or not hmac.compare_digest(payload.get("pwd", ""), _password_fingerprint(user)):
        return None
    return user


async def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)],
    db: Annotated[AsyncSession, Depends(get_db)],
) -> User:
    payload = _decode(token, ACCESS)
    user = await db.get(User, int(payload["sub"])) if payload else None
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
DbSession = Annotated[AsyncSession, Depends(get_db)]
