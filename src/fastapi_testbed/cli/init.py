"""`fastapi-testbed init`: read the project, write [tool.testbed], a first test, run the suite.

What it writes, and why each key:

- ``app``: the best FastAPI app found (module-level first, then a factory).
- ``alembic_ini`` when an alembic.ini has revisions, else ``metadata``: the base's (or
  SQLModel's) metadata, named from a module that, with the app, imports every model.
- ``engine``: only for an engine made in a zero-argument factory rather than at import time.
- ``database_url_env``: only when the app's URL variable has no default (the plugin then
  always exports the test database's URL into it).
- ``env``: a value for each setting the app requires with no default, so it can be imported;
  database parts (``POSTGRES_HOST``...) point at a local server, whose database the plugin
  replaces with ``test_<name>`` (on ``--testbed-db-url``'s server when one is given).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi_testbed.cli.findings import (
    AppCandidate,
    EnvSetting,
    Findings,
    SchemaCandidate,
    find_all,
)
from fastapi_testbed.cli.messages import (
    NO_ANSWER,
    NO_APP,
    NO_PYTHON,
    NOT_WRITTEN,
    SUITE_EMPTY,
    SUITE_FAILED,
    CliError,
)
from fastapi_testbed.cli.suite import SMOKE_TEST, run_suite
from fastapi_testbed.cli.table import diff, edit_pyproject

__all__ = ["Plan", "Prompter", "plan", "run_init"]

T = TypeVar("T")
SERVER_DEFAULTS = {
    "postgresql": {"port": "5432", "user": "postgres", "password": "postgres"},
    "mysql": {"port": "3306", "user": "root", "password": "root"},
}
SMOKE_PATH = Path("tests") / "test_testbed_smoke.py"


class Prompter:
    """Asks on the terminal; with ``yes`` takes the default (the most likely choice) instead."""

    def __init__(self, yes: bool, ask: Callable[[str], str] = input) -> None:
        self.yes = yes
        self._ask = ask
        self.chosen: list[str] = []  # what --yes decided, for the report

    def choose(self, question: str, key: str, options: Sequence[tuple[T, str]]) -> T:
        if len(options) == 1:
            return options[0][0]
        if self.yes:
            others = "; ".join(label for _, label in options[1:])
            self.chosen.append(
                f"{key}: {options[0][1]} (--yes took the most likely of {len(options)}; "
                f"the others: {others})"
            )
            return options[0][0]
        print(f"\n{question}")
        for index, (_, label) in enumerate(options, 1):
            print(f"  {index}) {label}")
        for _ in range(3):
            try:
                answer = self._ask(f"Which one? [1-{len(options)}, default 1] ").strip()
            except EOFError:
                raise CliError(NO_ANSWER.format(question=question, key=key)) from None
            if not answer:
                return options[0][0]
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1][0]
            print(f"  please answer a number from 1 to {len(options)}")
        raise CliError(NO_ANSWER.format(question=question, key=key))

    def confirm(self, question: str) -> bool:
        if self.yes:
            return True
        try:
            answer = self._ask(f"{question} [Y/n] ").strip().lower()
        except EOFError:
            return False
        return answer in {"", "y", "yes"}


@dataclass
class Plan:
    """The table to write and what was found, with where."""

    entries: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    found: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    has_schema: bool = False


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "app"


def _placeholder(setting: EnvSetting, backend: str, database: str) -> str:
    """A value that lets the app import: a local server's parts, else one of the right type."""
    server = SERVER_DEFAULTS.get(backend, SERVER_DEFAULTS["postgresql"])
    part = setting.part
    if part in {"HOST", "SERVER", "HOSTNAME"}:
        return "localhost"
    if part == "PORT":
        return server["port"]
    if part in {"USER", "USERNAME"}:
        return server["user"]
    if part in {"PASSWORD", "PASS"}:
        return server["password"]
    if part in {"NAME", "DB", "DATABASE"}:
        return database
    annotation = setting.annotation.replace(" ", "")
    base = annotation.split("|")[0].split("[")[0].rpartition(".")[2]
    simple = {
        "bool": "false",
        "int": "1",
        "float": "1.0",
        "list": "[]",
        "List": "[]",
        "set": "[]",
        "tuple": "[]",
        "dict": "{}",
        "Dict": "{}",
        "EmailStr": "test@example.com",
        "HttpUrl": "http://localhost",
        "AnyHttpUrl": "http://localhost",
        "AnyUrl": "http://localhost",
    }
    return simple.get(base, "test-" + setting.name.lower().replace("_", "-"))


def _server_backend(findings: Findings, setting: EnvSetting | None = None) -> str:
    if setting is not None:
        prefix = setting.name.upper()
        if prefix.startswith(("POSTGRES", "PG_")):
            return "postgresql"
        if prefix.startswith(("MYSQL", "MARIADB")):
            return "mysql"
    servers = sorted(findings.backends - {"sqlite"})
    return servers[0] if servers else "postgresql"


def plan(findings: Findings, prompter: Prompter) -> Plan:
    """Choose the app and schema (asking when two fit), and the keys the app needs."""
    result = Plan()
    root = findings.root
    if not findings.modules:
        raise CliError(NO_PYTHON.format(root=root))
    if not findings.apps:
        raise CliError(NO_APP.format(root=root, modules=findings.modules))
    app: AppCandidate = prompter.choose(
        f"{len(findings.apps)} FastAPI apps found. Which one do the tests run?",
        "app",
        [(c, f"{c.value}  ({c.where}, {c.how})") for c in findings.apps],
    )
    if app is not findings.apps[0]:  # the schema's module is chosen with the app's imports
        findings = find_all(root, app=app.value)
    result.entries["app"] = app.value
    result.found.append(("app", f"{app.value}  ({app.where}, {app.how})"))
    package = app.value.split(".")[0].split(":")[0]
    if (root / "src" / package).is_dir() and importlib.util.find_spec(package) is None:
        result.warnings.append(
            f"{package} lives in src/ and is not installed: the plugin puts only the project's "
            'folder on sys.path; `pip install -e .`, or pythonpath = ["src"] in '
            "[tool.pytest.ini_options]."
        )

    alembic = [c for c in findings.schemas if c.key == "alembic_ini"]
    metadata = [c for c in findings.schemas if c.key == "metadata"]
    schema: SchemaCandidate | None = None
    if alembic:
        schema = prompter.choose(
            "More than one alembic.ini has revisions. Which one builds the test database?",
            "alembic_ini",
            [(c, f"{c.value}  ({c.how})") for c in alembic],
        )
    elif metadata:
        schema = prompter.choose(
            f"{len(metadata)} declarative bases have tables. Which one is the app's database?",
            "metadata",
            [(c, f"{c.value}  ({c.where}, {c.how})") for c in metadata],
        )
    for note in findings.alembic_notes:
        result.found.append(("alembic", f"{note}: not used"))
    if schema is not None:
        result.has_schema = True
        result.entries[schema.key] = schema.value
        result.found.append(
            ("schema", f"{schema.key} = {schema.value}  ({schema.where}, {schema.how})")
        )
        if schema.missing:
            result.warnings.append(
                f"models in {', '.join(schema.missing)} are imported neither by the app nor by "
                f"{schema.value.partition(':')[0]}: their tables would be missing; import them "
                "there, or change metadata in [tool.testbed]."
            )
        if schema.key == "alembic_ini" and metadata:
            result.entries["#metadata"] = (
                f'metadata = "{metadata[0].value}"  # to check the models\' tables after migrating'
            )
    elif findings.engines:
        result.warnings.append(
            "the app creates engines but no alembic.ini with revisions nor a declarative base "
            "with tables was found: set metadata or alembic_ini in [tool.testbed]."
        )

    for site in findings.engines:
        kind = "create_async_engine" if site.is_async else "create_engine"
        place = "at import" if site.module_level else "in a function"
        result.found.append(("engine", f"{kind}({site.url}) {place}  ({site.where})"))
    factories = {site.factory for site in findings.engines if site.factory}
    if len(factories) == 1 and not any(s.module_level for s in findings.engines):
        result.entries["engine"] = factories.pop()  # made on first use: name it, it is called once
    for value, where, uses in findings.dependencies[:2]:
        result.found.append(("sessions", f"{value}  ({where}, {uses} Depends())"))

    _plan_settings(findings, result, _slug(app.value.partition(":")[0].split(".")[0]))
    return result


def _plan_settings(findings: Findings, result: Plan, name: str) -> None:
    env: dict[str, str] = {}
    seen: set[str] = set()
    urls = [s for s in findings.settings if s.is_url and "TEST" not in s.name.upper()]
    url = next((s for s in urls if s.required), urls[0] if urls else None)
    if url is not None:
        source = f"{url.origin} ({url.where})"
        if url.required:
            result.entries["database_url_env"] = url.name
            result.comments["database_url_env"] = "required by the app: set to the test database"
            dsn = next((b for d, b in DSN_BACKENDS.items() if d in url.annotation), None)
            if dsn is not None:
                server = SERVER_DEFAULTS[dsn]
                env[url.name] = f"{dsn}://{server['user']}@localhost:{server['port']}/{name}"
            result.found.append(("database", f"{url.name}, required, from {source}"))
        else:
            result.found.append(
                ("database", f"{url.name}, default {url.default or 'None'}, from {source}")
            )
        seen.add(url.name)
    parts = [s for s in findings.settings if s.part and s.name not in seen]
    if parts:
        result.found.append(
            ("database", "URL from parts: " + ", ".join(sorted({s.name for s in parts})))
        )
    for setting in findings.settings:
        if setting.name in seen or not setting.required:
            continue
        seen.add(setting.name)
        if setting.is_url:
            continue
        backend = _server_backend(findings, setting)
        env[setting.name] = _placeholder(setting, backend, name)
    if env:
        result.entries["env"] = dict(sorted(env.items()))
        result.found.append(("env", "required settings with no default: " + ", ".join(sorted(env))))


DSN_BACKENDS = {"PostgresDsn": "postgresql", "MySQLDsn": "mysql", "MariaDBDsn": "mysql"}


def _print_found(findings: Findings, result: Plan) -> None:
    print(f"fastapi-testbed init in {findings.root}\n\nFound ({findings.modules} modules read):")
    for label, text in result.found:
        print(f"  {label:<9} {text}")
    tests = findings.test_files
    if tests:
        print(f"  {'tests':<9} {len(tests)} file(s)")
    else:
        print(f"  {'tests':<9} none")


def run_init(
    root: Path,
    *,
    yes: bool,
    run: bool,
    dry_run: bool,
    pytest_args: Sequence[str],
    ask: Callable[[str], str] = input,
) -> int:
    prompter = Prompter(yes, ask)
    findings = find_all(root)
    result = plan(findings, prompter)
    _print_found(findings, result)
    for chosen in prompter.chosen:
        print(f"  chosen    {chosen}")
    for warning in result.warnings:
        print(f"  warning   {warning}")

    edit = edit_pyproject(findings.root, result.entries, result.comments)
    if edit.kept:
        kept = ", ".join(f"{key} = {value!r}" for key, value in edit.kept.items())
        print(f"\n[tool.testbed] already sets {kept}: left as it is.")
    if edit.changed:
        print(f"\n{diff(edit)}", end="")
        if dry_run:
            print("\n--dry-run: nothing written.")
            return 0
        if not prompter.confirm(f"Write [tool.testbed] to {edit.path.name}?"):
            raise CliError(NOT_WRITTEN)
        edit.path.write_text(edit.new, encoding="utf-8")
        print(f"Wrote [tool.testbed] to {edit.path} ({', '.join(edit.added) or 'no new keys'}).")
    else:
        print("\n[tool.testbed] is up to date: nothing to write.")
        if dry_run:
            return 0

    if not findings.test_files and not dry_run:
        smoke = findings.root / SMOKE_PATH
        smoke.parent.mkdir(exist_ok=True)
        text = SMOKE_TEST if result.has_schema else SMOKE_TEST.split("\n\ndef test_database")[0]
        smoke.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"Wrote {SMOKE_PATH} (the project had no tests).")

    if findings.test_files:
        _doctor_hint(findings.root)
    if not run:
        return 0
    code = run_suite(findings.root, pytest_args)
    if code == 5:
        raise CliError(SUITE_EMPTY.format(root=findings.root))
    if code != 0:
        raise CliError(SUITE_FAILED.format(code=code, pyproject=edit.path))
    print(f"\nfastapi-testbed init: done; the suite passes with [tool.testbed] in {edit.path}.")
    return 0


def _doctor_hint(root: Path) -> None:
    from fastapi_testbed.cli.patterns import scan_tests

    problems = scan_tests(root)
    if problems:
        fixable = sum(1 for problem in problems if problem.fixable)
        print(
            f"\n{len(problems)} pattern(s) in your tests that the plugin replaces or that are "
            f"broken on current libraries ({fixable} fixable): run `fastapi-testbed doctor`."
        )
        sys.stdout.flush()
