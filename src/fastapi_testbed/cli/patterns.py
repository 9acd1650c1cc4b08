"""The conftest.py patterns fastapi-testbed makes unnecessary, or that current libraries broke.

:func:`scan_tests` reads every conftest.py and test module of a project (with :mod:`ast`,
nothing is imported) and returns :class:`Problem` objects: file, line, why, what replaces it.
:func:`fix_tests` applies the safe fixes with text edits at the places ast found: it removes
fixtures the plugin provides (a client, a session, a schema, an engine, ``event_loop``),
renames their uses to the plugin's fixture (``async_client`` -> ``client``, ``db`` ->
``db_session``), removes override and environment lines the plugin does itself, then the
module-level engines, URLs, override functions and imports nothing uses any more. A fixture
is left alone when a fix could change what a test means (it is used by name in a test's body
with no replacement, by ``usefixtures``, by a wider-scoped fixture, or is parametrised).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi_testbed.cli.project import is_test_file, pytest_ini, walk_files

__all__ = ["Problem", "fix_tests", "scan_tests"]

URL_NAME = re.compile(r"(DATABASE|DB|SQLALCHEMY)\w*_(URL|URI|DSN)$|^DATABASE_URL$", re.I)
URL_LITERAL = re.compile(r"^(postgresql|postgres|mysql|mariadb|sqlite)(\+\w+)?://")
SESSION_NAME = re.compile(r"db|session|database", re.I)
ENGINE_CALLS = {"create_engine", "create_async_engine"}
MAKER_CALLS = {"sessionmaker", "async_sessionmaker"}
SESSION_CALLS = {"Session", "AsyncSession"}
CLIENT_CALLS = {"AsyncClient", "TestClient", "LifespanManager"}
APP_CALLS = {"FastAPI", "create_app", "get_app", "get_application", "make_app"}
WIDE_SCOPES = {"session", "package", "module", "class"}
# Modules whose unused `import x` a fix may drop (no import side effects a test relies on).
DROPPABLE_IMPORTS = {"asyncio", "httpx", "httpx2", "pytest", "pytest_asyncio", "sqlalchemy", "os"}


@dataclass
class Problem:
    code: str
    path: Path
    line: int
    what: str
    why: str
    instead: str
    fixable: bool = False
    broken: bool = False  # fails on current libraries, not only unnecessary

    def render(self, root: Path) -> str:
        mark = " [fixable]" if self.fixable else ""
        kind = "broken" if self.broken else "unnecessary"
        return (
            f"{self.path.relative_to(root)}:{self.line}: {self.what} ({kind}){mark}\n"
            f"    why: {self.why}\n"
            f"    instead: {self.instead}"
        )


@dataclass
class Fixture:
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    path: Path
    scope: str
    autouse: bool
    params: bool
    kinds: set[str] = field(default_factory=set)

    @property
    def replacement(self) -> str | None:
        if "asyncclient" in self.kinds or "asgiclient" in self.kinds:
            return "client"
        if "testclient" in self.kinds:
            return "sync_client"
        if "session" in self.kinds:
            return "db_session"
        return None

    @property
    def plugin_kind(self) -> bool:
        """Everything it does, the plugin does: a client, a session, a schema, an engine."""
        return bool(self.kinds & {"asyncclient", "asgiclient", "testclient", "session"}) or bool(
            self.kinds & {"schema", "engine", "event_loop"}
        )


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _fixture_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        text = ast.unparse(target)
        if text.split(".")[-1] == "fixture":
            return decorator
    return None


def _keyword(decorator: ast.expr, name: str) -> ast.expr | None:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == name:
                return keyword.value
    return None


def _fixtures(tree: ast.Module, path: Path) -> list[Fixture]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorator = _fixture_decorator(node)
        if decorator is None:
            continue
        name_node = _keyword(decorator, "name")
        scope_node = _keyword(decorator, "scope")
        autouse_node = _keyword(decorator, "autouse")
        fixture = Fixture(
            name=name_node.value
            if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)
            else node.name,
            node=node,
            path=path,
            scope=scope_node.value
            if isinstance(scope_node, ast.Constant) and isinstance(scope_node.value, str)
            else "function",
            autouse=isinstance(autouse_node, ast.Constant) and autouse_node.value is True,
            params=_keyword(decorator, "params") is not None,
        )
        fixture.kinds = _kinds(fixture)
        found.append(fixture)
    return found


def _kinds(fixture: Fixture) -> set[str]:
    kinds: set[str] = set()
    node = fixture.node
    if fixture.name == "event_loop":
        kinds.add("event_loop")
    yields_or_returns = any(
        isinstance(n, ast.Yield | ast.Return) and getattr(n, "value", None) is not None
        for n in ast.walk(node)
    )
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            called = _called(child)
            keywords = {k.arg for k in child.keywords}
            if called == "AsyncClient":
                kinds.add("asyncclient" if "app" in keywords else "asgiclient")
            elif called == "TestClient":
                kinds.add("testclient")
            elif called == "LifespanManager":
                kinds.add("lifespan")
            elif called in ENGINE_CALLS:
                kinds.add("engine")
            elif (
                called in SESSION_CALLS
                or called in MAKER_CALLS
                or ("Session" in called and called[:1].isupper())
            ):
                kinds.add("session_made")
        elif isinstance(child, ast.Attribute) and child.attr in {"create_all", "drop_all"}:
            kinds.add("schema")
        elif isinstance(child, ast.Attribute) and child.attr == "dependency_overrides":
            kinds.add("overrides")
    named_session = bool(SESSION_NAME.search(fixture.name)) and "engine" in kinds
    if yields_or_returns and ("session_made" in kinds or named_session):
        kinds.add("session")
    kinds.discard("session_made")
    return kinds


def _uses_anyio(trees: Iterable[ast.Module]) -> bool:
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and ast.unparse(node).endswith("mark.anyio"):
                return True
            if isinstance(node, ast.FunctionDef) and node.name == "anyio_backend":
                return True
    return False


@dataclass
class _File:
    path: Path
    source: bytes
    tree: ast.Module
    fixtures: list[Fixture]


def _files(root: Path) -> list[_File]:
    files = []
    for path in walk_files(root):
        if not is_test_file(path):
            continue
        source = path.read_bytes()
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            continue
        files.append(_File(path, source, tree, _fixtures(tree, path)))
    return files


# --- what each pattern is -----------------------------------------------------------------------
def _fixture_problems(fixture: Fixture) -> Iterator[Problem]:
    line = fixture.node.lineno
    kinds = fixture.kinds
    path = fixture.path
    name = fixture.name
    if "event_loop" in kinds:
        yield Problem(
            "event-loop",
            path,
            line,
            "an `event_loop` fixture",
            "pytest-asyncio 1.0 removed the event_loop fixture: overriding it no longer sets the "
            "tests' loop; and the plugin's connections work from any loop",
            "nothing: delete it (for one loop per session: asyncio_default_test_loop_scope = "
            '"session" in pytest-asyncio, or an anyio_backend fixture of session scope)',
            broken=True,
        )
    if "asyncclient" in kinds:
        yield Problem(
            "asyncclient-app",
            path,
            line,
            f"fixture `{name}` builds `AsyncClient(app=...)`",
            "httpx 0.28 removed AsyncClient's app argument (TypeError), and an AsyncClient never "
            "runs the app's lifespan",
            "the plugin's `client` fixture (httpx AsyncClient over ASGITransport, lifespan run, "
            "requests inside the test's transaction)",
            broken=True,
        )
    elif "asgiclient" in kinds:
        yield Problem(
            "client-fixture",
            path,
            line,
            f"fixture `{name}` builds an AsyncClient over ASGITransport",
            "the plugin gives this client, with the lifespan run (ASGITransport alone never "
            "starts it) and the app's sessions inside the test's transaction",
            "the plugin's `client` fixture",
        )
    if "testclient" in kinds:
        yield Problem(
            "testclient-fixture",
            path,
            line,
            f"fixture `{name}` builds Starlette's TestClient",
            "the plugin gives this client, lifespan run and overrides put back after each test",
            "the plugin's `sync_client` fixture",
        )
    if "session" in kinds:
        wide = fixture.scope in WIDE_SCOPES
        yield Problem(
            "session-across-loops" if wide else "session-fixture",
            path,
            line,
            f"fixture `{name}` makes its own {'engine and ' if 'engine' in kinds else ''}session"
            + (f" (scope={fixture.scope!r})" if wide else ""),
            (
                "an async engine or session shared by tests is bound to the event loop of the "
                "first test ('attached to a different loop', 'Future ... different loop')"
            )
            if wide
            else "a session of the test's own, outside the app's, sees neither the app's "
            "uncommitted rows nor its session options",
            "the plugin's `db_session` (the app's session class, in the test's transaction, on "
            "connections that work from every loop)",
            broken=wide,
        )
    elif "engine" in kinds and "schema" not in kinds:
        yield Problem(
            "engine-fixture",
            path,
            line,
            f"fixture `{name}` makes a test engine",
            "the plugin points every engine the app creates at a test database",
            "nothing (`testbed.engine` is the app's engine, `testbed.url` the test database)",
        )
    if "schema" in kinds:
        per_test = fixture.scope == "function"
        yield Problem(
            "create-all",
            path,
            line,
            f"fixture `{name}` runs create_all/drop_all" + (" for every test" if per_test else ""),
            "the plugin builds the test database once from [tool.testbed] metadata/alembic_ini "
            "and rolls each test back"
            + ("; building the schema per test is the slowest way to isolate" if per_test else ""),
            "nothing: delete it",
        )


def _statement_problems(file: _File) -> Iterator[tuple[Problem, ast.stmt]]:
    for node in ast.walk(file.tree):
        if not isinstance(node, ast.Expr | ast.Assign):
            continue
        text = ast.unparse(node)
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) in {"os.environ.setdefault", "environ.setdefault"}
            and node.value.args
            and isinstance(node.value.args[0], ast.Constant)
            and URL_NAME.search(str(node.value.args[0].value))
        ):
            yield _env_problem(file, node, text), node
            continue
        if isinstance(node, ast.Expr) and text.endswith("dependency_overrides.clear()"):
            yield (
                Problem(
                    "overrides-clear",
                    file.path,
                    node.lineno,
                    "`app.dependency_overrides.clear()`",
                    "it also drops overrides the app or a conftest made on purpose; the plugin "
                    "puts dependency_overrides back exactly as they were after every test",
                    "nothing; for a test's own override, the `override` fixture",
                ),
                node,
            )
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Subscript)
        ):
            target = node.targets[0]
            assert isinstance(target, ast.Subscript)
            owner = ast.unparse(target.value)
            key = ast.unparse(target.slice)
            if owner.endswith("dependency_overrides") and SESSION_NAME.search(key):
                yield (
                    Problem(
                        "session-override",
                        file.path,
                        node.lineno,
                        f"`{text}`",
                        "the plugin binds the app's engines, so the app's own session "
                        "dependency already works in the test's transaction; an override "
                        "session of the test's own skips the app's session options",
                        "nothing: delete it (the `dependency` key of [tool.testbed] exists for "
                        "apps that need it)",
                    ),
                    node,
                )
            elif owner in {"os.environ", "environ"} and URL_NAME.search(key.strip("'\"")):
                yield _env_problem(file, node, text), node


def _env_problem(file: _File, node: ast.stmt, text: str) -> Problem:
    return Problem(
        "env-database-url",
        file.path,
        node.lineno,
        f"`{text}`",
        "set in a conftest, it runs after the plugin exported the test database's URL, and "
        "points the app's settings elsewhere",
        "nothing: the plugin sets the app's URL variable (database_url_env)",
    )


def _body_problems(file: _File, fixtures: set[int]) -> Iterator[Problem]:
    """AsyncClient(app=...) written in a test itself (not in a fixture)."""
    for node in ast.walk(file.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and id(node) not in fixtures:
            for child in ast.walk(node):
                if (
                    isinstance(child, ast.Call)
                    and _called(child) == "AsyncClient"
                    and any(k.arg == "app" for k in child.keywords)
                ):
                    yield Problem(
                        "asyncclient-app",
                        file.path,
                        child.lineno,
                        "`AsyncClient(app=...)` in a test",
                        "httpx 0.28 removed AsyncClient's app argument (TypeError)",
                        "the plugin's `client` fixture: add it to the test's arguments",
                        broken=True,
                    )


def _config_problems(root: Path, files: list[_File]) -> Iterator[Problem]:
    where, options = pytest_ini(root)
    if options.get("asyncio_mode", "").strip().lower() == "auto" and _uses_anyio(
        f.tree for f in files
    ):
        path = root / where
        line = 1
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "asyncio_mode" in text:
                line = number
                break
        yield Problem(
            "asyncio-auto-anyio",
            path,
            line,
            'asyncio_mode = "auto" beside anyio tests',
            "in auto mode pytest-asyncio claims every async test and fixture, those marked "
            "anyio too: two plugins drive one test, and anyio's fixtures run on the wrong loop",
            "one of them: remove asyncio_mode (strict, the default) and keep pytest.mark.anyio, "
            "or drop the anyio marks and anyio_backend",
            broken=True,
        )


# --- scanning and fixing ------------------------------------------------------------------------
def scan_tests(root: Path) -> list[Problem]:
    return _scan(root.resolve(), _files(root.resolve()))[0]


def _scan(root: Path, files: list[_File]) -> tuple[list[Problem], _Fixes]:
    fixes = _plan_fixes(files)
    problems: list[Problem] = []
    for file in files:
        fixture_nodes = {id(f.node) for f in file.fixtures}
        for fixture in file.fixtures:
            for problem in _fixture_problems(fixture):
                problem.fixable = id(fixture.node) in fixes.removed
                problems.append(problem)
        for problem, statement in _statement_problems(file):
            problem.fixable = fixes.statement_safe(file, statement)
            problems.append(problem)
        problems.extend(_body_problems(file, fixture_nodes))
    problems.extend(_config_problems(root, files))
    problems.sort(key=lambda p: (str(p.path), p.line, p.code))
    return problems, fixes


@dataclass
class _Fixes:
    removed: dict[int, Fixture] = field(default_factory=dict)  # id(node) -> fixture
    renames: dict[str, str | None] = field(default_factory=dict)  # fixture name -> replacement
    skipped: dict[str, str] = field(default_factory=dict)  # fixture name -> why not

    def statement_safe(self, file: _File, statement: ast.stmt) -> bool:
        lines = file.source.splitlines()
        first = lines[statement.lineno - 1].decode("utf-8", "replace")
        last = lines[(statement.end_lineno or statement.lineno) - 1].decode("utf-8", "replace")
        before = first.encode()[: statement.col_offset].decode("utf-8", "replace")
        after = last.encode()[statement.end_col_offset or 0 :].decode("utf-8", "replace")
        return not before.strip() and not after.split("#")[0].strip()


def _functions(
    files: list[_File],
) -> Iterator[tuple[_File, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for file in files:
        for node in ast.walk(file.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield file, node


def _arg_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _body_uses(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _plan_fixes(files: list[_File]) -> _Fixes:
    fixes = _Fixes()
    by_name: dict[str, list[Fixture]] = {}
    for file in files:
        for fixture in file.fixtures:
            by_name.setdefault(fixture.name, []).append(fixture)
    usefixtures = " ".join(
        ast.unparse(n)
        for file in files
        for n in ast.walk(file.tree)
        if isinstance(n, ast.Call) and ast.unparse(n.func).endswith("usefixtures")
    )
    fixture_by_node = {id(f.node): f for fs in by_name.values() for f in fs}
    for name, defined in by_name.items():
        if not all(f.plugin_kind for f in defined):
            continue
        replacements = {f.replacement for f in defined}
        if len(replacements) != 1:
            fixes.skipped[name] = "defined more than once, differently"
            continue
        replacement = replacements.pop()
        why = None
        if any(f.params for f in defined):
            why = "it is parametrised"
        elif re.search(rf"['\"]{re.escape(name)}['\"]", usefixtures):
            why = "it is named in usefixtures"
        if why is None:
            for _file, function in _functions(files):
                if name not in _arg_names(function):
                    continue
                user = fixture_by_node.get(id(function))
                if user is not None and user.name == name:
                    continue
                if user is not None and user.scope in WIDE_SCOPES and replacement is not None:
                    why = f"fixture `{user.name}` of scope {user.scope!r} uses it"
                    break
                if user is not None and user.plugin_kind:
                    continue  # removed too, or the loop below puts this one back
                if replacement is None and _body_uses(function, name):
                    why = f"`{function.name}` uses it in its body"  # nothing stands in for it
                    break
                if (
                    replacement is not None
                    and replacement not in _arg_names(function)
                    and _body_uses(function, replacement)
                ):
                    why = f"`{function.name}` already uses the name {replacement}"
                    break
        if why is not None:
            fixes.skipped[name] = why
            continue
        for fixture in defined:
            fixes.removed[id(fixture.node)] = fixture
        if name != replacement:
            fixes.renames[name] = replacement
    # A fixture that uses a removed one with no replacement in its body is itself removed, or
    # the removal is undone (it would read a name that is gone).
    changed = True
    while changed:
        changed = False
        for name, replacement in list(fixes.renames.items()):
            if replacement is not None:
                continue
            for _file, function in _functions(files):
                user = fixture_by_node.get(id(function))
                if (
                    name in _arg_names(function)
                    and _body_uses(function, name)
                    and not (user is not None and id(user.node) in fixes.removed)
                ):
                    for fixture in by_name[name]:
                        fixes.removed.pop(id(fixture.node), None)
                    del fixes.renames[name]
                    fixes.skipped[name] = f"`{function.name}` uses it in its body"
                    changed = True
                    break
    return fixes


# --- text edits ---------------------------------------------------------------------------------
@dataclass
class _Edit:
    start: int
    end: int
    text: bytes


class _Positions:
    def __init__(self, source: bytes) -> None:
        self.source = source
        self.starts = [0]
        for index, byte in enumerate(source):
            if byte == 10:
                self.starts.append(index + 1)

    def at(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def line_end(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.source)


def _apply(source: bytes, edits: list[_Edit]) -> bytes:
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    kept: list[_Edit] = []
    for edit in edits:
        if kept and edit.start < kept[-1].end:
            continue  # inside a range already removed
        kept.append(edit)
    out = bytearray(source)
    for edit in reversed(kept):
        out[edit.start : edit.end] = edit.text
    return bytes(out)


def _tidy(source: bytes) -> bytes:
    text = re.sub(rb"\n{4,}", b"\n\n\n", source.lstrip(b"\n"))
    return text.rstrip(b"\n") + b"\n" if text.strip() else b""


def _remove_lines(positions: _Positions, node: ast.AST) -> _Edit:
    first = node.lineno  # type: ignore[attr-defined]
    decorators = getattr(node, "decorator_list", [])
    if decorators:
        first = min(first, *(d.lineno for d in decorators))
    last = node.end_lineno or first  # type: ignore[attr-defined]
    return _Edit(positions.line_start(first), positions.line_end(last), b"")


def _remove_statement(positions: _Positions, node: ast.stmt, parents: dict[int, ast.AST]) -> _Edit:
    parent = parents.get(id(node))
    siblings: list[ast.stmt] = []
    for attribute in ("body", "orelse", "finalbody"):
        block = getattr(parent, attribute, None)
        if isinstance(block, list) and node in block:
            siblings = block
    if len(siblings) == 1 and not isinstance(parent, ast.Module):
        return _Edit(
            positions.at(node.lineno, node.col_offset),
            positions.at(node.end_lineno or node.lineno, node.end_col_offset or 0),
            b"pass",
        )
    return _remove_lines(positions, node)


def _function_edits(
    positions: _Positions,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    renames: dict[str, str | None],
) -> list[_Edit]:
    """Rename (or drop) the parameters of removed fixtures, and rename their uses."""
    names = _arg_names(function)
    present = set(names)
    renamed: dict[str, str] = {}
    dropped: set[str] = set()
    for name in names:
        if name not in renames:
            continue
        new = renames[name]
        if new is not None and new not in present:
            renamed[name] = new
            present.add(new)
        else:
            dropped.add(name)  # the replacement is already a parameter, or there is none
    if not renamed and not dropped:
        return []
    edits: list[_Edit] = []

    def start(arg: ast.arg) -> int:
        return positions.at(arg.lineno, arg.col_offset)

    def end(arg: ast.arg) -> int:
        return positions.at(arg.end_lineno or arg.lineno, arg.end_col_offset or 0)

    args = function.args
    for group in (args.posonlyargs + args.args, args.kwonlyargs):
        trailing = len(group)
        while trailing > 0 and group[trailing - 1].arg in dropped:
            trailing -= 1
        for index, arg in enumerate(group):
            if arg.arg in renamed:
                edits.append(
                    _Edit(start(arg), start(arg) + len(arg.arg.encode()), renamed[arg.arg].encode())
                )
            elif arg.arg in dropped and index < trailing:
                edits.append(_Edit(start(arg), start(group[index + 1]), b""))
        if trailing < len(group):
            first = end(group[trailing - 1]) if trailing > 0 else start(group[0])
            edits.append(_Edit(first, end(group[-1]), b""))
    targets = {name: (renamed.get(name) or renames[name]) for name in renamed.keys() | dropped}
    for child in ast.walk(function):
        if isinstance(child, ast.Name) and targets.get(child.id):
            position = positions.at(child.lineno, child.col_offset)
            new_name = targets[child.id]
            assert new_name is not None
            edits.append(_Edit(position, position + len(child.id.encode()), new_name.encode()))
    return edits


def fix_tests(root: Path) -> tuple[list[Problem], list[Path]]:
    """Apply the safe fixes; return the problems that remain and the files changed."""
    root = root.resolve()
    files = _files(root)
    _problems, fixes = _scan(root, files)
    changed: list[Path] = []
    for file in files:
        positions = _Positions(file.source)
        parents = {id(c): p for p in ast.walk(file.tree) for c in ast.iter_child_nodes(p)}
        edits: list[_Edit] = []
        for fixture in file.fixtures:
            if id(fixture.node) in fixes.removed:
                edits.append(_remove_lines(positions, fixture.node))
        for _problem, statement in _statement_problems(file):
            if fixes.statement_safe(file, statement):
                edits.append(_remove_statement(positions, statement, parents))
        for node in ast.walk(file.tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            edits.extend(_function_edits(positions, node, fixes.renames))
        if not edits:
            continue
        source = _apply(file.source, edits)
        source = _clean_module(source, others=[f for f in files if f is not file])
        try:
            ast.parse(source)
        except SyntaxError:
            continue  # never leave a file that does not parse: this one stays as it was
        if source != file.source:
            source = _tidy(source)
            if not source and file.path.name == "conftest.py":
                file.path.unlink()  # nothing left in it: the plugin does all it did
            else:
                file.path.write_bytes(source)
            changed.append(file.path)
    remaining = scan_tests(root)
    return remaining, changed


# --- what nothing uses any more -----------------------------------------------------------------
def _loaded_names(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _dead_assignment(node: ast.stmt, used: set[str]) -> bool:
    if not isinstance(node, ast.Assign) or not all(isinstance(t, ast.Name) for t in node.targets):
        return False
    if any(t.id in used for t in node.targets if isinstance(t, ast.Name)):
        return False
    value = node.value
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return bool(URL_LITERAL.match(value.value))
    if isinstance(value, ast.Call):
        called = _called(value)
        return called in ENGINE_CALLS | MAKER_CALLS | CLIENT_CALLS | APP_CALLS or (
            "Session" in called and called[:1].isupper()
        )
    return False


def _dead_function(node: ast.stmt, used: set[str]) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name in used:
        return False
    if node.decorator_list or node.name.startswith(("test", "pytest_")):
        return False
    yields = any(isinstance(n, ast.Yield) for n in ast.walk(node))
    return node.name.startswith("override") or (yields and bool(SESSION_NAME.search(node.name)))


def _clean_module(source: bytes, others: list[_File]) -> bytes:
    """Drop module-level engines, URLs, override functions and imports nothing uses now."""
    elsewhere = b"\n".join(f.source for f in others)
    for _ in range(6):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source
        defined = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        } | {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        words = {word.decode() for word in re.findall(rb"\b[A-Za-z_]\w*\b", elsewhere)}
        used = _loaded_names(tree) | (words & defined)
        positions = _Positions(source)
        edits: list[_Edit] = []
        for node in tree.body:
            if _dead_assignment(node, used) or _dead_function(node, used):
                edits.append(_remove_lines(positions, node))
            elif isinstance(node, ast.ImportFrom | ast.Import):
                edit = _import_edit(positions, source, node, used)
                if edit is not None:
                    edits.append(edit)
        if not edits:
            return source
        source = _apply(source, edits)
    return source


def _import_edit(
    positions: _Positions, source: bytes, node: ast.Import | ast.ImportFrom, used: set[str]
) -> _Edit | None:
    lines = source.splitlines()[node.lineno - 1 : (node.end_lineno or node.lineno)]
    if any(b"noqa" in line for line in lines):
        return None
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return None
    keep = []
    for alias in node.names:
        bound = alias.asname or alias.name.split(".")[0]
        droppable = (
            isinstance(node, ast.ImportFrom) or alias.name.split(".")[0] in DROPPABLE_IMPORTS
        )
        if bound in used or not droppable or alias.name == "*":
            keep.append(alias)
    if len(keep) == len(node.names):
        return None
    if not keep:
        return _remove_lines(positions, node)
    names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in keep)
    if isinstance(node, ast.ImportFrom):
        text = f"from {'.' * node.level}{node.module or ''} import {names}"
    else:
        text = f"import {names}"
    return _Edit(
        positions.at(node.lineno, node.col_offset),
        positions.at(node.end_lineno or node.lineno, node.end_col_offset or 0),
        text.encode(),
    )
