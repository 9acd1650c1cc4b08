"""Password hashing (bcrypt) and signed tokens (PyJWT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from uuid import uuid4

import bcrypt
import jwt

from notes_app.config import settings

# bcrypt reads at most 72 bytes of a password; longer ones are refused, never silently truncated.
MAX_PASSWORD_BYTES = 72


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class TokenError(Exception):
    """The token is malformed, forged, expired or of the wrong type."""


def hash_password(password: str) -> str:
    salt = bcrypt.gensalt(rounds=settings.bcrypt_rounds)
    return bcrypt.hashpw(password.encode(), salt).decode()


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def verify_password(password: str, hashed_password: str | None) -> bool:
    """Check ``password`` against a stored hash; ``None`` (no such user) is always False.

    A failed lookup still costs one bcrypt check, so response times do not reveal usernames.
    """
    candidate = password.encode()
    if hashed_password is None or len(candidate) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"", _dummy_hash().encode())
        return False
    return bcrypt.checkpw(candidate, hashed_password.encode())


def create_token(subject: str, token_type: TokenType, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "type": token_type.value,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid4().hex,
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), settings.jwt_algorithm)


def create_access_token(subject: str) -> str:
    lifetime = timedelta(minutes=settings.access_token_expire_minutes)
    return create_token(subject, TokenType.ACCESS, lifetime)


def create_refresh_token(subject: str) -> str:
    lifetime = timedelta(minutes=settings.refresh_token_expire_minutes)
    return create_token(subject, TokenType.REFRESH, lifetime)


def decode_token(token: str, expected_type: TokenType) -> str:
    """The subject of a valid, unexpired token of ``expected_type``; TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp", "sub", "type"]},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError(str(exc)) from exc
    if claims["type"] != expected_type:
        raise TokenError(f"expected a {expected_type} token, got {claims['type']!r}")
    return str(claims["sub"])
