"""The app's engine was created at import time from its own settings; the tests still run on a
test database, and the session they get is a SQLModel one."""

import re
from pathlib import Path

from heroes_app.models import Hero
from sqlmodel import Session, select


def test_the_app_engine_points_at_the_test_database(db_session: Session) -> None:
    from heroes_app.db import engine

    database = engine.url.database
    assert database
    if engine.dialect.name == "sqlite":
        assert re.fullmatch(r"test_heroes(_gw\d+)?\.db", Path(database).name), database
    else:
        assert database.startswith("test_heroes"), database


def test_db_session_is_a_sqlmodel_session(db_session: Session) -> None:
    assert isinstance(db_session, Session)

    db_session.add(Hero(name="Deadpond", secret_name="Dive Wilson"))
    db_session.commit()

    assert db_session.exec(select(Hero.name)).all() == ["Deadpond"]
