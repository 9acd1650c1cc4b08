"""The engine, created once when the module is imported, and the request session dependency."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session, create_engine

from heroes_app.config import settings

# SQLite objects may only be used in the thread that created them by default; FastAPI runs sync
# endpoints and their dependencies in a thread pool, so the check has to go (as in the docs).
connect_args = {"check_same_thread": False} if settings.uses_sqlite else {}

engine = create_engine(
    settings.database_url,
    echo=settings.SQL_ECHO,
    pool_pre_ping=True,
    connect_args=connect_args,
)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
