"""Password hashing, tokens and the UTC column type, without the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import mysql, postgresql, sqlite
from tasks_app.exceptions import AuthenticationError
from tasks_app.models import User, UTCDateTime, as_utc
from tasks_app.security import (
    create_access_token,
    create_refresh_token,
    decode_token,
    digest_reset_token,
    hash_password,
    new_reset_token,
    verify_password,
)


def test_bcrypt_round_trip() -> None:
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$2b$")
    assert verify_password("s3cret-pass", hashed)
    assert not verify_password("wrong-pass", hashed)


def test_a_malformed_hash_never_verifies() -> None:
    assert not verify_password("anything", "not-a-bcrypt-hash")


def test_tokens_carry_their_type() -> None:
    user = User(id=7, email="x@example.com", name="X", password_hash="-")
    assert decode_token(create_access_token(user), "access") == 7
    assert decode_token(create_refresh_token(user), "refresh") == 7
    with pytest.raises(AuthenticationError):
        decode_token(create_refresh_token(user), "access")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_garbage_tokens(token: str) -> None:
    with pytest.raises(AuthenticationError, match="Could not validate credentials"):
        decode_token(token, "access")


def test_reset_tokens_are_url_safe_and_stored_as_digests() -> None:
    token, digest = new_reset_token()
    assert token.replace("-", "").replace("_", "").isalnum()
    assert digest == digest_reset_token(token)
    assert len(digest) == 64


class TestUTCDateTime:
    column_type = UTCDateTime()

    def test_aware_values_are_stored_as_naive_utc(self) -> None:
        paris = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
        stored = self.column_type.process_bind_param(paris, postgresql.dialect())
        assert stored == datetime(2030, 1, 1, 11, 0)

    def test_naive_values_are_read_as_utc(self) -> None:
        loaded = self.column_type.process_result_value(datetime(2030, 1, 1), sqlite.dialect())
        assert loaded == datetime(2030, 1, 1, tzinfo=UTC)
        assert self.column_type.process_result_value(None, sqlite.dialect()) is None

    def test_mariadb_keeps_microseconds(self) -> None:
        impl = self.column_type.load_dialect_impl(mysql.dialect())
        assert impl.compile(dialect=mysql.dialect()) == "DATETIME(6)"

    def test_as_utc_converts_offsets(self) -> None:
        tokyo = datetime(2030, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
        assert as_utc(tokyo) == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
        assert as_utc(tokyo).tzinfo is UTC
