"""What `fastapi-testbed init` looks for in a project, found by reading its source.

Each finder returns candidates with the file and line they come from, best first:
the FastAPI app (a module-level ``FastAPI()`` or a factory), the schema (an ``alembic.ini``
with revisions, or the ``MetaData`` of a declarative base or of SQLModel, named from a module
that imports its models), the app's engines, its session dependency, and the settings it
reads from the environment (the database URL, whole or in parts, and required variables).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi_testbed.cli.project import Module, Project, alembic_script_location, top_level

__all__ = [
    "AppCandidate",
    "EngineSite",
    "EnvSetting",
    "Findings",
    "SchemaCandidate",
    "find_all",
]

FASTAPI = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI"})
DECLARATIVE_CLASSES = frozenset(
    {
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
    }
)
DECLARATIVE_FUNCTIONS = frozenset(
    {
        "sqlalchemy.orm.declarative_base",
        "sqlalchemy.orm.decl_api.declarative_base",
        "sqlalchemy.ext.declarative.declarative_base",
    }
)
SQLMODEL = frozenset({"sqlmodel.SQLModel", "sqlmodel.main.SQLModel"})
METADATA = frozenset({"sqlalchemy.MetaData", "sqlalchemy.schema.MetaData", "sqlmodel.MetaData"})
TABLE = frozenset({"sqlalchemy.Table", "sqlalchemy.schema.Table", "sqlmodel.Table"})
ENGINE_FACTORIES = {
    "sqlalchemy.create_engine": False,
    "sqlalchemy.engine.create_engine": False,
    "sqlalchemy.engine_from_config": False,
    "sqlmodel.create_engine": False,
    "sqlalchemy.ext.asyncio.create_async_engine": True,
    "sqlalchemy.ext.asyncio.async_engine_from_config": True,
}
SETTINGS_BASES = frozenset(
    {"pydantic_settings.BaseSettings", "pydantic.BaseSettings", "pydantic.v1.BaseSettings"}
)
DEPENDS = frozenset({"fastapi.Depends", "fastapi.params.Depends"})
ASYNC_MARKERS = ("async_sessionmaker", "create_async_engine", "AsyncSession", "AsyncEngine")

URL_PATTERN = re.compile(r"^(postgresql|postgres|mysql|mariadb|sqlite|oracle|mssql)(\+\w+)?://")
URL_NAME = re.compile(
    r"^(?:\w+_)?(?:DATABASE|DB|SQLALCHEMY_DATABASE|POSTGRES|PG|MYSQL|MARIADB)_?(?:URL|URI|DSN)$"
    r"|^DSN$",
    re.IGNORECASE,
)
PART_NAME = re.compile(
    r"^(?:\w+_)?(?P<backend>POSTGRES|POSTGRESQL|PG|MYSQL|MARIADB|DB|DATABASE)_"
    r"(?P<part>HOST|SERVER|HOSTNAME|PORT|USER|USERNAME|PASSWORD|PASS|NAME|DB|DATABASE)$",
    re.IGNORECASE,
)
DSN_TYPES = {"PostgresDsn": "postgresql", "MySQLDsn": "mysql", "MariaDBDsn": "mysql"}


@dataclass(frozen=True)
class AppCandidate:
    value: str  # for [tool.testbed] app
    where: str
    how: str
    score: float


@dataclass(frozen=True)
class SchemaCandidate:
    key: str  # "alembic_ini" or "metadata"
    value: str
    where: str
    how: str
    score: float
    missing: tuple[str, ...] = ()  # model modules neither the app nor this module imports


@dataclass(frozen=True)
class EngineSite:
    where: str
    is_async: bool
    module_level: bool
    factory: str | None  # "pkg.db:get_engine()" for an engine a zero-argument function makes
    url: str  # the source text of the URL argument


@dataclass(frozen=True)
class EnvSetting:
    """An environment variable the app reads: its name, default and where."""

    name: str
    required: bool
    default: str | None
    annotation: str
    where: str
    origin: str  # "os.environ" or the settings class

    @property
    def is_url(self) -> bool:
        return bool(URL_NAME.match(self.name)) or bool(
            self.default and URL_PATTERN.match(self.default)
        )

    @property
    def part(self) -> str | None:
        match = PART_NAME.match(self.name)
        return match.group("part").upper() if match and not self.is_url else None


@dataclass
class Findings:
    root: Path
    apps: list[AppCandidate] = field(default_factory=list)
    schemas: list[SchemaCandidate] = field(default_factory=list)
    alembic_notes: list[str] = field(default_factory=list)
    engines: list[EngineSite] = field(default_factory=list)
    dependencies: list[tuple[str, str, int]] = field(default_factory=list)  # value, where, uses
    settings: list[EnvSetting] = field(default_factory=list)
    urls: list[tuple[str, str]] = field(default_factory=list)  # a literal URL and where
    backends: set[str] = field(default_factory=set)
    is_async: bool = False
    modules: int = 0
    test_files: list[Path] = field(default_factory=list)


def find_all(root: Path, *, app: str | None = None) -> Findings:
    """Read the project at ``root``; ``app`` fixes the app when the caller already chose it."""
    project = Project(root)
    findings = Findings(root=project.root, modules=len(project.modules))
    findings.test_files = project.test_files
    findings.apps = find_apps(project)
    chosen = app or (findings.apps[0].value if findings.apps else None)
    app_module = chosen.partition(":")[0] if chosen else None
    findings.schemas = find_schemas(project, app_module, findings.alembic_notes)
    findings.engines = list(find_engines(project))
    findings.dependencies = find_dependencies(project)
    findings.settings = list(find_settings(project))
    findings.urls, findings.backends = find_urls(project, findings.settings)
    findings.is_async = any(site.is_async for site in findings.engines) or any(
        marker in module.bindings for module in project.modules.values() for marker in ASYNC_MARKERS
    )
    return findings


# --- the app ------------------------------------------------------------------------------------
def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes nested in it."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _callable_without_arguments(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = node.args
    positional = args.posonlyargs + args.args
    return len(args.defaults) == len(positional) and all(
        default is not None for default in args.kw_defaults
    )


def _returns_fastapi(project: Project, module: Module, node: ast.FunctionDef) -> bool:
    if node.returns is not None:
        if isinstance(node.returns, ast.Constant) and node.returns.value == "FastAPI":
            return True
        if project.qualname(module, node.returns) in FASTAPI:
            return True
    made: set[str] = set()
    for child in _own_nodes(node):
        if (
            isinstance(child, ast.Assign)
            and isinstance(child.value, ast.Call)
            and project.qualname(module, child.value.func) in FASTAPI
        ):
            made.update(t.id for t in child.targets if isinstance(t, ast.Name))
    for child in _own_nodes(node):
        if isinstance(child, ast.Return) and child.value is not None:
            value = child.value
            if isinstance(value, ast.Call) and project.qualname(module, value.func) in FASTAPI:
                return True
            if isinstance(value, ast.Name) and value.id in made:
                return True
    return False


def _mounted(project: Project) -> set[str]:
    """Apps passed to ``.mount()`` of another app: sub-apps, not the app under test."""
    mounted: set[str] = set()
    for module in project.modules.values():
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "mount"
            ):
                for argument in [*node.args[1:], *(k.value for k in node.keywords)]:
                    name = project.qualname(module, argument)
                    if name:
                        mounted.add(name)
    return mounted


def find_apps(project: Project) -> list[AppCandidate]:
    """Module-level ``FastAPI()`` (or ``app = create_app()``), then factories nobody calls so."""
    factories: dict[str, tuple[Module, ast.FunctionDef]] = {}
    for module in project.modules.values():
        for node in top_level(module.tree):
            if (
                isinstance(node, ast.FunctionDef)
                and _returns_fastapi(project, module, node)
                and _callable_without_arguments(node)
            ):
                factories[f"{module.name}.{node.name}"] = (module, node)
    mounted = _mounted(project)
    candidates: list[AppCandidate] = []
    used_factories: set[str] = set()
    for module in project.modules.values():
        for node in top_level(module.tree):
            if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(
                node.value, ast.Call
            ):
                continue
            called = project.qualname(module, node.value.func)
            if called not in FASTAPI and called not in factories:
                continue
            if called in factories:
                used_factories.add(called)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                how = "module-level FastAPI()" if called in FASTAPI else f"made by {called}()"
                score = _app_score(project, module, target.id, mounted) + 2
                candidates.append(
                    AppCandidate(
                        f"{module.name}:{target.id}", module.where(node, project.root), how, score
                    )
                )
    for name, (module, node) in factories.items():
        if name in used_factories:
            continue
        score = _app_score(project, module, node.name, mounted) + 1
        candidates.append(
            AppCandidate(
                f"{module.name}:{node.name}()",
                module.where(node, project.root),
                "factory returning FastAPI",
                score,
            )
        )
    return sorted(candidates, key=lambda c: (-c.score, c.value))


def _app_score(project: Project, module: Module, name: str, mounted: set[str]) -> float:
    score = 0.0
    if f"{module.name}.{name}" in mounted:
        score -= 5
    if name in {"app", "application", "create_app", "get_app", "get_application"}:
        score += 1
    if module.name.rpartition(".")[2] in {"main", "app", "asgi", "server", "application"}:
        score += 1
    score -= 0.1 * module.name.count(".")
    return score + 0.01 * min(len(project.closure(module.name)), 50)  # the app with the routers


# --- the schema ---------------------------------------------------------------------------------
def _class_parents(project: Project, module: Module, node: ast.ClassDef) -> list[str]:
    return [name for base in node.bases if (name := project.qualname(module, base))]


def find_schemas(
    project: Project, app_module: str | None, notes: list[str]
) -> list[SchemaCandidate]:
    """alembic.ini files with revisions, then each base's metadata named from a module that
    imports its models (with the app's imports, which the plugin makes first)."""
    candidates: list[SchemaCandidate] = []
    for ini in project.alembic_inis():
        location = alembic_script_location(ini)
        versions = location / "versions" if location else None
        revisions = (
            [p for p in versions.glob("*.py") if p.name != "__init__.py"]
            if versions and versions.is_dir()
            else []
        )
        where = project.relative(ini)
        if not revisions:
            notes.append(f"{where} has no revisions in {versions or 'its script_location'}")
            continue
        depth = len(ini.relative_to(project.root).parts)
        candidates.append(
            SchemaCandidate(
                "alembic_ini",
                where,
                where,
                f"Alembic, {len(revisions)} revision(s)",
                10.0 - depth,
            )
        )
    candidates.extend(_metadata_candidates(project, app_module))
    return sorted(candidates, key=lambda c: -c.score)


def _metadata_candidates(project: Project, app_module: str | None) -> list[SchemaCandidate]:
    bases: dict[str, tuple[Module, ast.AST, str]] = {}
    classes: dict[str, tuple[Module, ast.ClassDef]] = {}
    for module in project.modules.values():
        for node in top_level(module.tree):
            if isinstance(node, ast.ClassDef):
                classes[f"{module.name}.{node.name}"] = (module, node)
                if set(_class_parents(project, module, node)) & DECLARATIVE_CLASSES:
                    bases[f"{module.name}.{node.name}"] = (module, node, "DeclarativeBase")
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and project.qualname(module, node.value.func) in DECLARATIVE_FUNCTIONS
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bases[f"{module.name}.{target.id}"] = (module, node, "declarative_base()")

    roots: dict[str, str | None] = {}

    def root_of(name: str, depth: int = 0) -> str | None:
        if name in bases:
            return name
        if name in SQLMODEL:
            return "sqlmodel.SQLModel"
        if name in roots:
            return roots[name]
        roots[name] = None
        found = None
        if name in classes and depth < 20:
            module, node = classes[name]
            for parent in _class_parents(project, module, node):
                found = root_of(parent, depth + 1)
                if found:
                    break
        roots[name] = found
        return found

    models: dict[str, list[tuple[str, Module, ast.ClassDef]]] = {}
    for name, (module, node) in classes.items():
        if name in bases:
            continue
        base = root_of(name)
        if base is None:
            continue
        body_names = {
            target.id
            for statement in node.body
            if isinstance(statement, ast.Assign | ast.AnnAssign)
            for target in (
                statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            )
            if isinstance(target, ast.Name)
        }
        is_table = (
            any(
                k.arg == "table" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            if base == "sqlmodel.SQLModel"
            else bool(body_names & {"__tablename__", "__table__"})
        )
        if is_table:
            models.setdefault(base, []).append((name, module, node))

    covered = project.closure(app_module) if app_module else frozenset()
    candidates = []
    for base, members in models.items():
        model_modules = {module.name for _, module, _ in members}
        if base == "sqlmodel.SQLModel":
            defined_in, how = None, "SQLModel"
            where = members[0][1].where(members[0][2], project.root)
            qualnames = SQLMODEL
        else:
            base_module, base_node, kind = bases[base]
            defined_in, how = base_module.name, kind
            where = base_module.where(base_node, project.root)
            qualnames = frozenset({base})
        best: tuple[tuple[int, int, int, int, str], str, tuple[str, ...]] | None = None
        for module in project.modules.values():
            names = [n for q in qualnames for n in project.binding_names(module, q)]
            if not names:
                continue
            missing = tuple(sorted(model_modules - project.closure(module.name) - covered))
            rank = (
                len(missing),
                0 if module.name in model_modules or module.name == defined_in else 1,
                0 if module.name == defined_in else 1,
                module.name.count("."),
                module.name,
            )
            if best is None or rank < best[0]:
                best = (rank, f"{module.name}:{names[0]}.metadata", missing)
        if best is None:
            continue
        _, value, missing = best
        candidates.append(
            SchemaCandidate(
                "metadata",
                value,
                where,
                f"{how}, {len(members)} table model(s)",
                float(len(members)) - len(missing),
                missing,
            )
        )
    candidates.extend(_core_metadata(project, set(bases)))
    return candidates


def _core_metadata(project: Project, bases: set[str]) -> list[SchemaCandidate]:
    """A plain ``metadata = MetaData()`` with ``Table(...)`` objects on it (SQLAlchemy Core)."""
    found: dict[str, tuple[Module, ast.AST]] = {}
    for module in project.modules.values():
        for node in top_level(module.tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and project.qualname(module, node.value.func) in METADATA
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[f"{module.name}.{target.id}"] = (module, node)
    tables: Counter[str] = Counter()
    for module in project.modules.values():
        for call in ast.walk(module.tree):
            if (
                isinstance(call, ast.Call)
                and len(call.args) >= 2
                and project.qualname(module, call.func) in TABLE
            ):
                name = project.qualname(module, call.args[1])
                if name in found:
                    tables[name] += 1
    return [
        SchemaCandidate(
            "metadata",
            f"{name.rpartition('.')[0]}:{name.rpartition('.')[2]}",
            module.where(node, project.root),
            f"MetaData, {tables[name]} Table(s)",
            float(tables[name]),
        )
        for name, (module, node) in found.items()
        if tables[name]
    ]


# --- engines, sessions, settings ---------------------------------------------------------------
def find_engines(project: Project) -> Iterator[EngineSite]:
    for module in project.modules.values():
        module_level = {id(node) for node in top_level(module.tree)}
        for function in ast.walk(module.tree):
            if function is not module.tree and not isinstance(
                function, ast.FunctionDef | ast.AsyncFunctionDef
            ):
                continue
            for node in _own_nodes(function):
                if not isinstance(node, ast.Call):
                    continue
                kind = project.qualname(module, node.func)
                if kind not in ENGINE_FACTORIES:
                    continue
                argument = node.args[0] if node.args else None
                for keyword in node.keywords:
                    if keyword.arg in {"url", "configuration"}:
                        argument = keyword.value
                factory = None
                if (
                    isinstance(function, ast.FunctionDef)
                    and id(function) in module_level
                    and _callable_without_arguments(function)
                ):
                    factory = f"{module.name}:{function.name}()"
                yield EngineSite(
                    where=module.where(node, project.root),
                    is_async=ENGINE_FACTORIES[kind],
                    module_level=function is module.tree,
                    factory=factory,
                    url=ast.unparse(argument) if argument is not None else "",
                )


def find_dependencies(project: Project) -> list[tuple[str, str, int]]:
    """Generator dependencies that hand out a session, with how many ``Depends()`` use them."""
    uses: Counter[str] = Counter()
    for module in project.modules.values():
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and node.args
                and project.qualname(module, node.func) in DEPENDS
            ):
                name = project.qualname(module, node.args[0])
                if name:
                    uses[name] += 1
    found = []
    for module in project.modules.values():
        for node in top_level(module.tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            own = list(_own_nodes(node))
            if not any(isinstance(n, ast.Yield | ast.YieldFrom) for n in own):
                continue
            text = ast.unparse(node)
            if "session" not in text.lower() and "Session" not in text:
                continue
            name = f"{module.name}.{node.name}"
            found.append(
                (f"{module.name}:{node.name}", module.where(node, project.root), uses[name])
            )
    return sorted(found, key=lambda item: (-item[2], item[0]))


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and node.value is not None and node.value is not ...:
        value = node.value
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def find_settings(project: Project) -> Iterator[EnvSetting]:
    """``os.environ``/``os.getenv`` reads and pydantic ``BaseSettings`` fields."""
    for module in project.modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and node.args:
                called = project.qualname(module, node.func)
                if called in {"os.environ.get", "os.getenv", "os.environ.setdefault"}:
                    name = _string(node.args[0])
                    if name:
                        fallback = node.args[1] if len(node.args) > 1 else None
                        yield EnvSetting(
                            name,
                            False,
                            _literal(fallback),
                            "str",
                            module.where(node, project.root),
                            "os.environ",
                        )
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and project.qualname(module, node.value) == "os.environ"
                and (name := _string(node.slice))
            ):
                yield EnvSetting(
                    name, True, None, "str", module.where(node, project.root), "os.environ"
                )
    classes: dict[str, tuple[Module, ast.ClassDef]] = {}
    for module in project.modules.values():
        for node in top_level(module.tree):
            if isinstance(node, ast.ClassDef):
                classes[f"{module.name}.{node.name}"] = (module, node)

    def is_settings(name: str, depth: int = 0) -> bool:
        if name in SETTINGS_BASES:
            return True
        if name not in classes or depth > 10:
            return False
        module, node = classes[name]
        return any(is_settings(p, depth + 1) for p in _class_parents(project, module, node))

    for name, (module, node) in classes.items():
        if name in SETTINGS_BASES or not is_settings(name):
            continue
        prefix = _env_prefix(node)
        for statement in node.body:
            if not isinstance(statement, ast.AnnAssign) or not isinstance(
                statement.target, ast.Name
            ):
                continue
            field_name = statement.target.id
            annotation = ast.unparse(statement.annotation)
            if field_name == "model_config" or "ClassVar" in annotation:
                continue
            required, default, alias = _field(statement.value)
            yield EnvSetting(
                alias or (prefix + field_name).upper(),
                required,
                default,
                annotation,
                module.where(statement, project.root),
                node.name,
            )


def _env_prefix(node: ast.ClassDef) -> str:
    for statement in node.body:
        if (
            isinstance(statement, ast.Assign | ast.AnnAssign)
            and isinstance(statement.value, ast.Call)
            and any(
                isinstance(t, ast.Name) and t.id == "model_config"
                for t in (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
            )
        ):
            for keyword in statement.value.keywords:
                if keyword.arg == "env_prefix":
                    return _string(keyword.value) or ""
        if isinstance(statement, ast.ClassDef) and statement.name == "Config":
            for inner in statement.body:
                if isinstance(inner, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "env_prefix" for t in inner.targets
                ):
                    return _string(inner.value) or ""
    return ""


def _field(value: ast.expr | None) -> tuple[bool, str | None, str | None]:
    """(required, default as text, alias) of a settings field's right-hand side."""
    if value is None:
        return True, None, None
    if isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] == "Field":
        alias = None
        has_default = bool(value.args) and not (
            isinstance(value.args[0], ast.Constant) and value.args[0].value is ...
        )
        default = _literal(value.args[0]) if value.args else None
        for keyword in value.keywords:
            if keyword.arg in {"default", "default_factory"}:
                has_default = True
                default = _literal(keyword.value) if keyword.arg == "default" else None
            elif keyword.arg in {"alias", "validation_alias"} and _string(keyword.value):
                alias = _string(keyword.value)
        return not has_default, default, alias
    return False, _literal(value), None


def find_urls(
    project: Project, settings: list[EnvSetting]
) -> tuple[list[tuple[str, str]], set[str]]:
    """Database URLs written in the code, and the backends they and the settings point at."""
    urls: list[tuple[str, str]] = []
    backends: set[str] = set()
    for module in project.modules.values():
        for node in ast.walk(module.tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if URL_PATTERN.match(text):
                    urls.append((text, module.where(node, project.root)))
            elif isinstance(node, ast.JoinedStr) and node.values:
                text = _string(node.values[0])
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "create"
                and node.args
            ):
                first = _string(node.args[0])
                text = f"{first}://" if first else None
            if text and (match := URL_PATTERN.match(text)):
                backends.add(_family(match.group(1)))
            elif isinstance(node, ast.Name) and node.id in DSN_TYPES:
                backends.add(DSN_TYPES[node.id])
    for setting in settings:
        for dsn, backend in DSN_TYPES.items():
            if dsn in setting.annotation:
                backends.add(backend)
    return urls, backends


def _family(scheme: str) -> str:
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)
