"""The FastAPI application: routers, and domain errors mapped to HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tasks_app.db import engine
from tasks_app.exceptions import AppError, AuthenticationError
from tasks_app.routers import auth, health, projects, tasks, users


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


async def handle_app_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, AuthenticationError) else None
    return JSONResponse({"detail": error.message}, status_code=error.status_code, headers=headers)


def create_app() -> FastAPI:
    app = FastAPI(title="Tasks", version="1.0.0", lifespan=lifespan)
    app.add_exception_handler(AppError, handle_app_error)
    for module in (health, auth, users, projects, tasks):
        app.include_router(module.router)
    return app


app = create_app()
