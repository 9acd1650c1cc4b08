"""`fastapi-testbed init`: the table it writes for each project shape, and the suite it runs."""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from fastapi_testbed.cli import main
from tests.cli.conftest import POSTGRES, Folder, tree
from tests.cli.projects import SQLMODEL, SYNC, TWO_OF_EACH, Files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Make = Callable[[str, Files], Folder]


def table(folder: Folder) -> dict[str, object]:
    return tomllib.loads(folder.read("pyproject.toml"))["tool"]["testbed"]  # type: ignore[no-any-return]


def test_sqlmodel_with_url_parts_and_no_tests(make: Make) -> None:
    """SQLModel, pydantic-settings with required POSTGRES_* parts, no tests: init writes the
    table and a smoke test, runs the suite (here on PostgreSQL), and it passes on SQLite too."""
    folder = make("cliapp_sqlmodel", SQLMODEL)
    before = folder.read("pyproject.toml")
    result = folder.cli_process("init", "--yes", "--db-url", POSTGRES)
    assert result.code == 0, result.output
    assert table(folder) == {
        "app": "cliapp_sqlmodel.app:api",
        "metadata": "cliapp_sqlmodel.models:SQLModel.metadata",
        "env": {
            "POSTGRES_DB": "cliapp_sqlmodel",
            "POSTGRES_HOST": "localhost",
            "POSTGRES_PASSWORD": "postgres",
            "POSTGRES_USER": "postgres",
            "SECRET_KEY": "test-secret-key",
        },
    }
    after = folder.read("pyproject.toml")
    assert after.startswith(before.rstrip() + "\n\n[tool.testbed]\n")  # the rest kept, comments too
    assert "line-length = 100  # keep me" in after
    # what was found, and where
    assert (
        "app       cliapp_sqlmodel.app:api  (cliapp_sqlmodel/app.py:15, module-level FastAPI())"
        in (result.stdout)
    )
    assert "(cliapp_sqlmodel/models.py:4, SQLModel, 1 table model(s))" in result.stdout
    assert "URL from parts: POSTGRES_DB, POSTGRES_HOST, POSTGRES_PASSWORD" in result.stdout
    assert "Wrote tests/test_testbed_smoke.py (the project had no tests)." in result.stdout
    assert "test_cliapp_sqlmodel" in result.stdout  # the suite ran on its test database
    assert re.search(r"2 passed", result.stdout)
    # written only in the project's folder
    assert [p.name for p in folder.outer.iterdir()] == ["cliapp_sqlmodel"]
    assert tree(folder.root) - set(SQLMODEL) == {"tests/test_testbed_smoke.py"}

    sqlite = folder.suite("--testbed-db-url", "sqlite://")
    assert sqlite.code == 0, sqlite.output
    assert "2 passed" in sqlite.stdout


def test_sync_alembic_factory_and_a_required_url(make: Make) -> None:
    """Sync SQLAlchemy, declarative_base(), Alembic, an app factory, os.environ["DATABASE_URL"]."""
    folder = make("cliapp_sync", SYNC)
    result = folder.cli("init", "--yes", "--no-run")
    assert result.code == 0, result.output
    assert table(folder) == {
        "app": "cliapp_sync.main:create_app()",
        "alembic_ini": "alembic.ini",
        "database_url_env": "DATABASE_URL",
    }
    text = folder.read("pyproject.toml")
    assert '# metadata = "cliapp_sync.database:Base.metadata"' in text
    assert 'database_url_env = "DATABASE_URL"  # required by the app' in text
    assert "alembic_ini = alembic.ini  (alembic.ini, Alembic, 1 revision(s))" in result.stdout
    assert "DATABASE_URL, required, from os.environ (cliapp_sync/config.py:3)" in result.stdout
    assert "cliapp_sync.database:get_db  (cliapp_sync/database.py:11, 2 Depends())" in result.stdout
    assert "pattern(s) in your tests" in result.stdout  # its conftest: doctor's business
    assert not (folder.root / "tests" / "test_testbed_smoke.py").exists()  # it has tests

    # again: the table is there, nothing to write
    again = folder.cli("init", "--yes", "--no-run")
    assert again.code == 0, again.output
    assert "already sets app = 'cliapp_sync.main:create_app()'" in again.stdout
    assert "nothing to write" in again.stdout
    assert folder.read("pyproject.toml") == text


def test_existing_table_keeps_the_users_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cliapp_keep"
    from tests.cli.projects import write

    files = dict(SYNC)
    files["pyproject.toml"] = (
        "[tool.testbed]\n"
        'app = "cliapp_sync.main:create_app()"  # mine\n'
        'env = { DATABASE_URL = "sqlite:///./mine.db" }\n'
    )
    write(root, files)
    assert main(["init", str(root), "--yes", "--no-run"]) == 0
    text = (root / "pyproject.toml").read_text()
    assert text.startswith('[tool.testbed]\napp = "cliapp_sync.main:create_app()"  # mine\n')
    written = tomllib.loads(text)["tool"]["testbed"]
    assert written["env"] == {"DATABASE_URL": "sqlite:///./mine.db"}
    assert written["alembic_ini"] == "alembic.ini"
    assert "already sets app" in capsys.readouterr().out


def test_two_apps_and_two_bases_yes_takes_the_most_likely(make: Make) -> None:
    folder = make("cliapp_two", TWO_OF_EACH)
    result = folder.cli("init", "--yes", "--dry-run")
    assert result.code == 0, result.output
    out = result.stdout
    assert '+app = "cliapp_two.main:app"' in out  # the admin app is mounted: a sub-app
    assert '+metadata = "cliapp_two.models:Base.metadata"' in out  # two models against one
    assert "chosen    app: cliapp_two.main:app" in out
    assert "the others: cliapp_two.admin:admin  (cliapp_two/admin.py:3" in out
    assert "the others: cliapp_two.analytics:AnalyticsBase.metadata" in out
    assert "--dry-run: nothing written." in out
    assert folder.read("pyproject.toml") == textwrap.dedent(TWO_OF_EACH["pyproject.toml"]).lstrip()


def test_two_apps_and_two_bases_are_asked(make: Make) -> None:
    folder = make("cliapp_two", TWO_OF_EACH)
    result = folder.cli("init", "--no-run", stdin="2\n2\ny\n")
    assert result.code == 0, result.output
    assert "2 FastAPI apps found. Which one do the tests run?" in result.stdout
    assert "2 declarative bases have tables." in result.stdout
    assert table(folder) == {
        "app": "cliapp_two.admin:admin",
        "metadata": "cliapp_two.analytics:AnalyticsBase.metadata",
    }


def test_no_answer_writes_nothing(make: Make) -> None:
    folder = make("cliapp_sync", SYNC)
    before = tree(folder.root)
    result = folder.cli_process("init")  # standard input closed: the question gets no answer
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [
        "fastapi-testbed init: pyproject.toml was not changed (answer y, or run "
        "`fastapi-testbed init --yes` to write without asking)."
    ]
    assert tree(folder.root) == before
    assert "[tool.testbed]" not in folder.read("pyproject.toml")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"pyproject.toml": "[project]\nname = 'x'\n", "cliapp_none/models.py": "X = 1\n"},
            "No FastAPI app found in ",
        ),
        (
            {
                "pyproject.toml": "[project\n",
                "cliapp_bad/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            },
            "is not valid TOML",
        ),
        ({"pyproject.toml": "", "README.md": "no code\n"}, "No Python modules found in "),
    ],
    ids=["no-app", "bad-toml", "no-code"],
)
def test_failures_are_one_message(make: Make, files: Files, message: str) -> None:
    folder = make("cliapp_fail", files)
    before = {path: folder.read(path) for path in files}
    result = folder.cli("init", "--yes")
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastapi-testbed init: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert {path: folder.read(path) for path in files} == before


def test_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["blog", "heroes", "items", "notes", "profiles", "tasks"])
def test_finds_what_the_examples_tables_say(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each example without its table: init (dry run) finds the app and schema its table names."""
    root = tmp_path / name
    shutil.copytree(EXAMPLES / name, root, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    pyproject = root / "pyproject.toml"
    expected = tomllib.loads(pyproject.read_text())["tool"]["testbed"]
    stripped = re.sub(
        r"\n\[tool\.testbed[^\n]*\]\n(?:(?!\n\[)[\s\S])*", "\n", pyproject.read_text()
    )
    pyproject.write_text(stripped)
    assert main(["init", str(root), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f'+app = "{expected["app"]}"' in out
    for key in ("alembic_ini", "metadata"):
        if key in expected:
            assert f'+{key} = "{expected[key]}"' in out
    if name == "blog":  # pydantic-settings' DATABASE_URL with no default: the test URL goes in
        assert '+database_url_env = "DATABASE_URL"  # required by the app' in out
        assert '+SECRET_KEY = "test-secret-key"' in out
    assert pyproject.read_text() == stripped


def test_the_command_and_the_module(tmp_path: Path) -> None:
    import subprocess

    script = Path(sys.executable).with_name("fastapi-testbed")
    assert script.exists()
    for command in ([str(script)], [sys.executable, "-m", "fastapi_testbed"]):
        completed = subprocess.run(
            [*command, "--help"], capture_output=True, text=True, check=False, timeout=60
        )
        assert completed.returncode == 0
        assert "{init,doctor}" in completed.stdout or "init" in completed.stdout


def test_src_layout(make: Make) -> None:
    folder = make(
        "cliapp_src",
        {
            "pyproject.toml": "[project]\nname = 'cliapp-src'\n",
            "src/cliapp_src/__init__.py": "",
            "src/cliapp_src/main.py": "import fastapi\n\napp = fastapi.FastAPI()\n",
        },
    )
    result = folder.cli("init", "--yes", "--dry-run")
    assert result.code == 0, result.output
    assert '+app = "cliapp_src.main:app"' in result.stdout
    assert "cliapp_src lives in src/ and is not installed" in result.stdout
