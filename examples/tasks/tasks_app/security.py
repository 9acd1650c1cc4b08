"""Password hashing (bcrypt), JWT access/refresh tokens and password-reset tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any, Literal

import bcrypt
import jwt

from tasks_app.config import settings
from tasks_app.exceptions import AuthenticationError
from tasks_app.models import User, utcnow

TokenType = Literal["access", "refresh"]

INVALID_TOKEN = "Could not validate credentials"


def hash_password(password: str) -> str:
    """bcrypt hash, `$2b$...`; cost from `BCRYPT_ROUNDS`."""
    salt = bcrypt.gensalt(rounds=settings.bcrypt_rounds)
    return bcrypt.hashpw(password.encode(), salt).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # malformed hash, or a password over bcrypt's 72 bytes
        return False


def _create_token(user: User, token_type: TokenType, lifetime: timedelta) -> str:
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "role": user.role.value,
        "type": token_type,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,  # two tokens minted in the same second still differ
    }
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def create_access_token(user: User) -> str:
    return _create_token(user, "access", timedelta(minutes=settings.access_token_expire_minutes))


def create_refresh_token(user: User) -> str:
    return _create_token(user, "refresh", timedelta(days=settings.refresh_token_expire_days))


def decode_token(token: str, expected_type: TokenType) -> int:
    """The user id a valid token of `expected_type` names; `AuthenticationError` otherwise."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[settings.jwt_algorithm])
    except jwt.ExpiredSignatureError as error:
        raise AuthenticationError("Token has expired") from error
    except jwt.InvalidTokenError as error:
        raise AuthenticationError(INVALID_TOKEN) from error
    if claims.get("type") != expected_type:
        raise AuthenticationError(INVALID_TOKEN)
    try:
        return int(claims["sub"])
    except (KeyError, ValueError) as error:
        raise AuthenticationError(INVALID_TOKEN) from error


def new_reset_token() -> tuple[str, str]:
    """A URL-safe token for the e-mail, and the digest to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, digest_reset_token(token)


def digest_reset_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
