import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlmodel import SQLModel

from heroes_app import models  # noqa: F401  (every table on SQLModel.metadata)
from heroes_app.config import settings
from heroes_app.db import engine
from heroes_app.routers import heroes, stats, teams

logger = logging.getLogger("heroes_app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logger.info(
        "Starting %s %s on %s",
        settings.PROJECT_NAME,
        settings.API_VERSION,
        engine.url.render_as_string(hide_password=True),
    )
    if settings.CREATE_TABLES_ON_STARTUP:
        logger.info("CREATE_TABLES_ON_STARTUP is set: creating missing tables")
        SQLModel.metadata.create_all(engine)
    yield
    logger.info("Stopping %s", settings.PROJECT_NAME)


app = FastAPI(title=settings.PROJECT_NAME, version=settings.API_VERSION, lifespan=lifespan)
app.include_router(heroes.router)
app.include_router(teams.router)
app.include_router(stats.router)
