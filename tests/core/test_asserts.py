"""assert_database_has / _missing / _count: the rows of the test database, with clear failures."""

from __future__ import annotations

import pytest

from fastapi_testbed.asserts import MATCHING_ROWS, NO_MATCHING_ROW, WRONG_ROW_COUNT
from tests.conftest import Project
from tests.core.test_suites import FLAVOURS, build, calls

NOTES = """
from sqlalchemy import Boolean


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(50))
"""

TESTS = """
from fastapi_testbed import assert_database_count, assert_database_has, assert_database_missing
from tbapp.models import Item, Note


ASYNC def test_what_the_app_wrote(sync_client):
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201
    assert_database_has(Item, name="a")
    assert_database_has(Item.__table__, name="a")
    assert_database_missing(Item, name="b")
    assert_database_count(Item, 1)
    assert_database_count(Item, 1, name="a")
    assert_database_count(Item, 0, name="b")


@pytest.mark.testbed(isolation="truncate")
ASYNC def test_after_real_commits(sync_client):
    assert sync_client.post("/items", json={"name": "a"}).status_code == 201
    assert_database_has(Item, name="a")
    assert_database_count(Item, 1)


ASYNC def test_rolled_back_between_tests(db_session):
    assert_database_count(Item, 0)
    assert_database_missing(Item)


@pytest.fixture
ASYNC def notes(db_session):
    db_session.add_all(
        [
            Note(title="x", done=False, owner="ada"),
            Note(title="y", done=True, owner="ada"),
            Note(title="z", done=False, owner="bob"),
        ]
    )
    AWAIT db_session.commit()


ASYNC def test_has_fails(notes):
    assert_database_has(Note, title="x", done=True, owner="ada")


ASYNC def test_has_fails_on_empty_table(db_session):
    assert_database_has(Item, name="a")


ASYNC def test_missing_fails(notes):
    assert_database_missing(Note, owner="bob")


ASYNC def test_count_fails(notes):
    assert_database_count(Note, 2, owner="ada", done=False)


ASYNC def test_unknown_column(notes):
    assert_database_has(Note, titel="x")
"""


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_database_assertions(project: Project, flavour: str) -> None:
    build(project, calls(flavour, TESTS), flavour=flavour, models=NOTES)
    result = project.run()
    result.assert_outcomes(passed=3, failed=5)
    closest = (
        "The closest of its 3 row(s):\n"
        "  id=*, title='x', done=False (wanted True), owner='ada'\n"
        "  id=*, title='y' (wanted 'x'), done=True, owner='ada'\n"
        "  id=*, title='z' (wanted 'x'), done=False (wanted True), owner='bob' (wanted 'ada')"
    )
    for message in (
        NO_MATCHING_ROW.format(
            table="notes", wanted="title='x', done=True, owner='ada'", closest=closest
        ),
        NO_MATCHING_ROW.format(table="items", wanted="name='a'", closest="The table is empty."),
        MATCHING_ROWS.format(
            table="notes", wanted="owner='bob'", count=1, rows="  id=*, owner='bob'"
        ),
        WRONG_ROW_COUNT.format(
            expected=2,
            table="notes",
            where=" with owner='ada', done=False",
            count=1,
            rows="  id=*, owner='ada', done=False",
        ),
        "*Note has no column 'titel'; its columns: id, title, done, owner.",
    ):
        result.stdout.fnmatch_lines([f"E*{line}" for line in message.splitlines()])
