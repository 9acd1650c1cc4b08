"""The FastAPI application: `uvicorn blog_app.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from blog_app.database import engine
from blog_app.routers import posts, users


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(title="Blog API", lifespan=lifespan)
app.include_router(users.router)
app.include_router(posts.router)
