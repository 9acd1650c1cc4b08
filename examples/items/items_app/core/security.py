"""Argon2id password hashing and opaque session tokens."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import get_default_parameters

from items_app.core.config import Settings, settings


def _password_hasher(config: Settings) -> PasswordHasher:
    defaults = get_default_parameters()
    return PasswordHasher.from_parameters(
        dataclasses.replace(
            defaults,
            time_cost=config.argon2_time_cost or defaults.time_cost,
            memory_cost=config.argon2_memory_cost or defaults.memory_cost,
            parallelism=config.argon2_parallelism or defaults.parallelism,
        )
    )


_hasher = _password_hasher(settings)
# Verified against when the e-mail is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_session_token() -> str:
    """An opaque bearer token; only its SHA-256 digest is stored."""
    return secrets.token_urlsafe(32)


def hash_session_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast unsalted digest is enough to hide them at rest.
    return hashlib.sha256(token.encode()).hexdigest()
