"""Settings: resolved once, exported before the app is imported, shown in the report header."""

from __future__ import annotations

import pytest

from tests.conftest import Project

ENV_BEFORE_IMPORT = """
import os

from tbapp.db import engine  # imported by the test module, as a conftest would


def test_app_saw_test_settings_at_import(testbed):
    assert engine.url == testbed.url  # the app's engine, made at import, is a test engine
    assert os.environ["SECRET_KEY"] == "from-testbed"
"""

CONFTEST_IMPORTS_APP = """
from tbapp.main import app  # noqa: F401  the app imported by a conftest, before any fixture
"""


def test_environment_is_ready_before_conftest_imports_the_app(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    sqlite_project.write(ENV_BEFORE_IMPORT, conftest=CONFTEST_IMPORTS_APP)
    sqlite_project.run().assert_outcomes(passed=1)


def test_environment_is_restored_after_the_session(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("DATABASE_URL", "sqlite:///outside.db")
    sqlite_project.write(ENV_BEFORE_IMPORT)
    sqlite_project.run().assert_outcomes(passed=1)
    assert os.environ["DATABASE_URL"] == "sqlite:///outside.db"


def test_report_header_shows_app_url_and_sources(sqlite_project: Project) -> None:
    sqlite_project.write(ENV_BEFORE_IMPORT)
    result = sqlite_project.run(
        "--testbed-db-url", "postgresql://postgres:s3cret@127.0.0.1:5432/shop", "--co"
    )
    result.stdout.fnmatch_lines(
        [
            "testbed: app tbapp.main:app (from ?tool.testbed? in */pyproject.toml)",
            "testbed: test databases on postgresql://postgres:***@127.0.0.1:5432/shop "
            "(from --testbed-db-url); create and drop",
            "testbed: schema by metadata tbapp.models:Base.metadata; "
            "sessions from sessionmakers tbapp.db:SessionLocal",
            # the app reads DATABASE_URL, which holds its test database's URL already
            "testbed: engine postgresql+asyncpg://postgres:***@127.0.0.1:5432/test_shop "
            "(async, tbapp/db.py:*) -> postgresql+asyncpg://postgres:***@127.0.0.1:5432/test_shop",
        ]
    )
    assert "s3cret" not in result.stdout.str()


def test_environment_variable_chooses_the_server(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTBED_DATABASE_URL", "mysql://root@127.0.0.1:3306/shop")
    sqlite_project.write(ENV_BEFORE_IMPORT)
    result = sqlite_project.run("--co")
    result.stdout.fnmatch_lines(
        [
            "*test databases on mysql://root@127.0.0.1:3306/shop (from env TESTBED_DATABASE_URL)*",
            "*-> mysql+aiomysql://root@127.0.0.1:3306/test_shop?charset=utf8mb4",
        ]
    )


def test_sync_app_gets_a_sync_driver(sqlite_project: Project) -> None:
    sqlite_project.write(ENV_BEFORE_IMPORT, flavour="sync")
    result = sqlite_project.run("--testbed-db-url", "postgresql://postgres@127.0.0.1/", "--co")
    result.stdout.fnmatch_lines(["*engine * (sync, *) -> postgresql+psycopg://*/test_tbapp*"])


def test_no_table_keeps_the_plugin_dormant_until_a_fixture_is_used(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
        "[tool.other]\nx = 1\n"
    )
    pytester.makepyfile(
        """
        def test_plain():
            pass

        def test_wants_the_app(client):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    assert "no [tool.testbed] table was found" in result.stdout.str()
    result.stdout.fnmatch_lines(['*app = "myapp.main:app"*'])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('app = "tbapp.nowhere:app"', "*app = 'tbapp.nowhere:app': could not import module*"),
        ('app = "tbapp.main:nope"', "*module 'tbapp.main' has no attribute 'nope'*"),
    ],
)
def test_wrong_app_path_is_one_clear_error(
    sqlite_project: Project, line: str, message: str
) -> None:
    sqlite_project.write("def test_x(client):\n    pass\n")
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('app = "tbapp.main:app"', line))
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the app is imported at the start
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("typo_key = 1", "*unknown key(s) typo_key in ?tool.testbed? of*"),
        ("databases = 1", "*databases in * must be a table of tables, found 1*"),
        ('database_url = "::garbage"', "*'::garbage' (from ?tool.testbed? *) is not a database*"),
        ("sessionmakers = 3", "*sessionmakers in * must be a list of strings, found 3*"),
        ('dependency = "tbapp.db"', "*dependency = 'tbapp.db' is not an import path*"),
        ('xdist_template = "yes"', "*xdist_template in * must be true or false, found 'yes'*"),
    ],
)
def test_bad_table_is_a_usage_error(sqlite_project: Project, extra: str, message: str) -> None:
    sqlite_project.write("def test_x():\n    pass\n", extra=extra)
    if extra.startswith("sessionmakers"):
        pyproject = sqlite_project.pytester.path / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace('sessionmakers = ["tbapp.db:SessionLocal"]', "")
        )
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_sessionmaker_entry_must_be_a_sessionmaker(sqlite_project: Project) -> None:
    sqlite_project.write("def test_x(db_session):\n    pass\n")
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("tbapp.db:SessionLocal", "tbapp.db:engine"))
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sessionmakers entry 'tbapp.db:engine' is a AsyncEngine*"])


def test_precedence_cli_then_environment_then_table(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_project.write(ENV_BEFORE_IMPORT, extra='database_url = "postgresql://h/from_table"')
    header = "*testbed: test databases on postgresql://{where}/{name} (from {source});*"
    result = sqlite_project.run("--co")
    result.stdout.fnmatch_lines(
        [header.format(where="h", name="from_table", source="?tool.testbed? in *pyproject.toml")]
    )
    monkeypatch.setenv("TESTBED_DATABASE_URL", "postgresql://h/from_env")
    monkeypatch.setenv("TESTBED_REUSE_DB", "1")
    result = sqlite_project.run("--co")
    result.stdout.fnmatch_lines(
        [header.format(where="h", name="from_env", source="env TESTBED_DATABASE_URL") + " reuse"]
    )
    result = sqlite_project.run("--co", "--testbed-db-url", "postgresql://h/from_cli")
    result.stdout.fnmatch_lines(
        [header.format(where="h", name="from_cli", source="--testbed-db-url")]
    )


def test_header_names_the_session_dependency(sqlite_project: Project) -> None:
    sqlite_project.write(ENV_BEFORE_IMPORT, mode="dependency")
    result = sqlite_project.run("--co")
    result.stdout.fnmatch_lines(
        ["testbed: schema by metadata *; sessions from dependency tbapp.db:get_db"]
    )


def test_metadata_must_be_a_metadata(sqlite_project: Project) -> None:
    sqlite_project.write("def test_x(db_session):\n    pass\n")
    pyproject = sqlite_project.pytester.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("Base.metadata", "Base"))
    result = sqlite_project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*metadata = 'tbapp.models:Base' is a *, expected a sqlalchemy.MetaData*"]
    )


def test_named_driver_of_the_other_kind_gives_way_to_the_backends_driver(
    sqlite_project: Project,
) -> None:
    # an async driver named for the server, and a sync app: its engine gets pymysql
    sqlite_project.write(ENV_BEFORE_IMPORT, flavour="sync")
    result = sqlite_project.run("--testbed-db-url", "mysql+asyncmy://root@127.0.0.1:3306/", "--co")
    result.stdout.fnmatch_lines(["*engine * (sync, *) -> mysql+pymysql://root@127.0.0.1:3306/*"])
