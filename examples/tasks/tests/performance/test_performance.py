"""Performance checks, run on their own (`-m slow`).

The bounds are far above what the app needs, so that they catch an order-of-magnitude
regression (a lost index, an N+1 query, a leak) and never a busy CI runner.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time

import psutil
import pytest
from httpx2 import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.services.users import UserService

from tests.factories import UserFactory

pytestmark = pytest.mark.slow


async def test_health_responds_quickly(client: AsyncClient) -> None:
    await client.get("/health")  # warm-up: the first request pays for imports and caches

    start = time.perf_counter()
    response = await client.get("/health")
    elapsed = time.perf_counter() - start

    assert response.status_code == 200
    assert elapsed < 1.0


# Truncate isolation: the requests run concurrently, each on a connection of its own.
@pytest.mark.testbed(isolation="truncate")
async def test_fifty_concurrent_requests(client: AsyncClient, db_session: AsyncSession) -> None:
    UserFactory.create_batch(10)
    await db_session.commit()

    start = time.perf_counter()
    responses = await asyncio.gather(*(client.get("/users") for _ in range(50)))
    elapsed = time.perf_counter() - start

    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.headers["X-Total-Count"] == "10" for r in responses)
    assert elapsed < 30


async def test_paginating_a_thousand_users(db_session: AsyncSession) -> None:
    # Built, then inserted in one flush: a thousand factory flushes would time the factory.
    db_session.add_all(UserFactory.build_batch(1000))
    await db_session.commit()
    service = UserService(db_session)

    start = time.perf_counter()
    first, total = await service.list_users(skip=0, limit=100)
    last, _ = await service.list_users(skip=900, limit=100)
    elapsed = time.perf_counter() - start

    assert (len(first), len(last), total) == (100, 100, 1000)
    assert elapsed < 5


async def test_memory_stays_flat_over_a_hundred_requests(client: AsyncClient) -> None:
    process = psutil.Process(os.getpid())
    for _ in range(10):  # warm-up
        await client.get("/health")
    gc.collect()
    before = process.memory_info().rss

    for _ in range(100):
        assert (await client.get("/health")).status_code == 200
    gc.collect()
    growth_mb = (process.memory_info().rss - before) / 1024 / 1024

    assert growth_mb < 50
