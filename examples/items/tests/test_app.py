"""The application shell: factory, middleware, error envelope, settings, migrations."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from httpx2 import AsyncClient
from items_app.core.config import Settings, to_async_url
from items_app.db.base import Base
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection


async def test_health(client: AsyncClient) -> None:
    response = await client.get("/health")

    assert response.json() == {"status": "ok"}


async def test_every_response_has_a_request_id_and_timing(client: AsyncClient) -> None:
    first = await client.get("/api/v1/items")
    second = await client.get("/api/v1/items/not-a-uuid")

    assert len({first.headers["X-Request-ID"], second.headers["X-Request-ID"]}) == 2
    assert float(first.headers["X-Process-Time"]) >= 0
    assert "X-Request-ID" in second.headers


async def test_incoming_request_id_is_echoed(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"


async def test_unsafe_request_id_is_replaced(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "<script>"})

    assert response.headers["X-Request-ID"] != "<script>"


async def test_unknown_route_uses_the_envelope(client: AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error_code": "NOT_FOUND", "message": "Not Found", "details": None}


async def test_wrong_method_uses_the_envelope(client: AsyncClient) -> None:
    response = await client.put("/api/v1/items")

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


async def test_malformed_json_is_a_validation_error(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/items", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["error_code"] == "VALIDATION_ERROR"


async def test_routes_live_under_api_v1(client: AsyncClient) -> None:
    paths = set((await client.get("/openapi.json")).json()["paths"])

    assert {"/api/v1/items", "/api/v1/items/{item_id}/restore", "/api/v1/auth/me"} <= paths


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("mysql://root@h:3306/db", "mysql+aiomysql://root@h:3306/db"),
        ("mysql+pymysql://root@h/db", "mysql+aiomysql://root@h/db"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert to_async_url(url) == expected


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/items")
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://app@db/items_test")
    monkeypatch.setenv("SESSION_TTL_MINUTES", "5")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.database_url == "postgresql+asyncpg://app@db/items"
    assert settings.test_database_url == "postgresql+asyncpg://app@db/items_test"
    assert settings.session_ttl_minutes == 5


async def test_migrations_match_the_models(db_connection: AsyncConnection) -> None:
    """The schema the tests run on was built by Alembic; the models must agree with it."""

    def diff(connection: Connection) -> list[Any]:
        return compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )

    assert await db_connection.run_sync(diff) == []
