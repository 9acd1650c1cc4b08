"""assert_num_queries / assert_max_queries, and the opt-in N+1 check."""

from __future__ import annotations

from tests.conftest import Project
from tests.fakes.conftest import build

MODELS = """
from sqlalchemy import ForeignKey


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
"""

ROUTES = """
from tbapp.models import Author, Book


@app.get("/authors-one-by-one")
async def authors_one_by_one(db=Depends(get_db)):
    authors = (await db.scalars(select(Author).order_by(Author.id))).all()
    return {  # one query per author: the N+1 pattern
        a.name: [b.title for b in await db.scalars(select(Book).where(Book.author_id == a.id))]
        for a in authors
    }


@app.get("/authors")
async def authors(db=Depends(get_db)):
    rows = await db.execute(select(Author.name, Book.title).join(Book).order_by(Book.id))
    result = {}
    for name, title in rows:
        result.setdefault(name, []).append(title)
    return result
"""

COUNT_TESTS = """
from tbapp.models import Author, Book, Item


async def test_exact_count(client, assert_num_queries):
    with assert_num_queries(1):
        assert (await client.post("/items", json={"name": "a"})).status_code == 201
    with assert_num_queries(1) as queries:
        await client.get("/items")
    assert "FROM items" in queries.statements[0].sql


async def test_test_statements_count_too(db_session, assert_num_queries):
    with assert_num_queries(2):
        db_session.add(Item(name="x"))
        await db_session.flush()
        await db_session.commit()  # a savepoint release: not counted
        await db_session.get(Item, 1, populate_existing=True)


async def test_max(client, assert_max_queries):
    with assert_max_queries(1):
        await client.get("/items")


async def test_wrong_count(client, assert_num_queries):
    await client.post("/items", json={"name": "listed"})
    with assert_num_queries(3):
        await client.get("/items")


async def test_too_many(client, assert_max_queries):
    with assert_max_queries(0):
        await client.get("/items")
"""


def test_query_counting(sqlite_or_pg_project: Project) -> None:
    build(sqlite_or_pg_project, COUNT_TESTS, routes=ROUTES, models=MODELS)
    result = sqlite_or_pg_project.run()
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: Expected 3 SQL statement(s), 1 ran:",
            "*  1. SELECT items.id, items.name FROM items ORDER BY items.id*",
            "*AssertionError: Expected at most 0 SQL statement(s), 1 ran:",
        ]
    )


N_PLUS_ONE_TESTS = """
import pytest
from tbapp.models import Author, Book


@pytest.fixture
async def library(db_session):
    for n in range(3):
        author = Author(name=f"author-{n}")
        db_session.add(author)
        await db_session.flush()
        db_session.add(Book(title=f"book-{n}", author_id=author.id))
    await db_session.commit()


@pytest.mark.forbid_n_plus_one
async def test_n_plus_one(client, library):
    assert len((await client.get("/authors-one-by-one")).json()) == 3


@pytest.mark.forbid_n_plus_one
async def test_one_query(client, library):
    assert len((await client.get("/authors")).json()) == 3


@pytest.mark.forbid_n_plus_one(max_repeats=3)
async def test_raised_limit(client, library):
    await client.get("/authors-one-by-one")


async def test_not_checked_by_default(client, library):
    await client.get("/authors-one-by-one")
"""


def test_n_plus_one_marker(sqlite_or_pg_project: Project) -> None:
    build(sqlite_or_pg_project, N_PLUS_ONE_TESTS, routes=ROUTES, models=MODELS)
    result = sqlite_or_pg_project.run()
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_n_plus_one*",
            "N+1 queries: during request #1 GET /authors-one-by-one this statement ran 3 times "
            "(at most 2 allowed):",
            "    SELECT books.id, books.title, books.author_id FROM books "
            "WHERE books.author_id = ?",
            "Load the related rows in one query (selectinload, joinedload), or raise the limit "
            "for this test: @pytest.mark.forbid_n_plus_one(max_repeats=N).",
        ]
    )


OPTION_TESTS = """
import pytest


async def test_checked(client, library):
    await client.get("/authors-one-by-one")


@pytest.mark.allow_n_plus_one
async def test_opted_out(client, library):
    await client.get("/authors-one-by-one")
"""


def test_n_plus_one_option_and_table_key(sqlite_project: Project) -> None:
    library = N_PLUS_ONE_TESTS.split("@pytest.mark.forbid_n_plus_one\n")[0]
    build(sqlite_project, library + OPTION_TESTS, routes=ROUTES, models=MODELS)
    sqlite_project.run("--testbed-n-plus-one=2").assert_outcomes(passed=2, errors=1)
    sqlite_project.run("--testbed-n-plus-one=3").assert_outcomes(passed=2)
    sqlite_project.pytester.makepyprojecttoml(
        (sqlite_project.pytester.path / "pyproject.toml").read_text()
        + "\nn_plus_one_threshold = 2\n"
    )
    sqlite_project.run().assert_outcomes(passed=2, errors=1)
