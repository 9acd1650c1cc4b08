"""polyfactory and factory_boy factories write through the test's session: seen, then gone."""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.fakes.conftest import build

FACTORIES = """
import factory
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory

from tbapp.models import Item


class ItemFactory(SQLAlchemyFactory[Item]):
    __model__ = Item
    __set_primary_key__ = False


class ItemModelFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = Item

    name = factory.Sequence(lambda n: f"boy-{n}")
"""

ASYNC_TESTS = """
from tbapp.factories import ItemFactory, ItemModelFactory


async def test_1_polyfactory_async(client):
    await ItemFactory.create_async(name="poly")
    assert (await client.get("/items")).json() == ["poly"]


async def test_2_sync_apis_in_an_async_test(client):
    ItemFactory.create_sync(name="poly-sync")
    ItemModelFactory()
    assert (await client.get("/items")).json() == ["poly-sync", "boy-0"]


def test_3_sync_test_sync_client(sync_client):
    ItemModelFactory.create_batch(2)
    assert sync_client.get("/items").json() == ["boy-1", "boy-2"]


async def test_4_nothing_left(client, db_session):
    assert (await client.get("/items")).json() == []


def test_5_build_needs_no_database():
    assert ItemFactory.build(name="x").name == "x"
"""

SYNC_TESTS = """
from tbapp.factories import ItemFactory, ItemModelFactory


def test_1_factories(sync_client):
    ItemFactory.create_sync(name="poly")
    ItemModelFactory()
    assert sync_client.get("/items").json() == ["poly", "boy-0"]


async def test_2_polyfactory_async_api_over_a_sync_session(sync_client):
    await ItemFactory.create_async(name="async-api")
    assert sync_client.get("/items").json() == ["async-api"]


def test_3_nothing_left(sync_client, db_session):
    assert sync_client.get("/items").json() == []


def test_4_settings_restored():
    assert ItemFactory.__session__ is None
    assert ItemModelFactory._meta.sqlalchemy_session is None
    assert ItemModelFactory._meta.sqlalchemy_session_persistence is None
"""


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_factories_use_the_test_session(sqlite_or_pg_project: Project, flavour: str) -> None:
    build(
        sqlite_or_pg_project,
        ASYNC_TESTS if flavour == "async" else SYNC_TESTS,
        modules={"factories": FACTORIES},
        flavour=flavour,
    )
    result = sqlite_or_pg_project.run()
    result.assert_outcomes(passed=5 if flavour == "async" else 4)
