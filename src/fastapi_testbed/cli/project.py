"""Read a FastAPI project without running it: its modules, what they import and define.

Everything here works on source text with :mod:`ast`; nothing of the user's code is imported.
:class:`Project` holds the parsed modules and resolves a name used in one module to the
dotted name it stands for (``Base`` in ``app.models`` -> ``app.db.Base``, ``FastAPI`` ->
``fastapi.FastAPI``), which is what the finders in :mod:`fastapi_testbed.cli.findings` match on.
"""

from __future__ import annotations

import ast
import configparser
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Module",
    "Project",
    "is_test_file",
    "pytest_ini",
    "read_pyproject",
    "top_level",
    "walk_files",
]

# Folders that hold no code of the project's own.
SKIPPED_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        "site-packages",
        "venv",
        "env",
        "htmlcov",
    }
)


def is_test_file(path: Path) -> bool:
    name = path.name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def walk_files(root: Path, suffix: str = ".py", limit: int = 5000) -> Iterator[Path]:
    """The project's files, sorted, skipping virtualenvs, hidden and build folders."""
    count = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir(), reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if entry.name in SKIPPED_DIRS or (entry / "pyvenv.cfg").exists():
                    continue
                stack.append(entry)
            elif entry.name.endswith(suffix):
                count += 1
                if count > limit:
                    return
                yield entry


@dataclass
class Module:
    """One parsed module of the project."""

    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    # name bound at module level -> ("module", "attribute" or None for a module)
    bindings: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)

    def where(self, node: ast.AST, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{getattr(node, 'lineno', 1)}"


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None


class Project:
    """The project's own modules (tests and migrations apart), parsed and cross-referenced."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.modules: dict[str, Module] = {}
        self.test_files: list[Path] = []
        self.source_roots = [self.root]
        if (self.root / "src").is_dir() and not (self.root / "src" / "__init__.py").exists():
            self.source_roots.insert(0, self.root / "src")
        migrations = self._migration_folders()
        for path in walk_files(self.root):
            in_tests = "tests" in path.relative_to(self.root).parts[:-1]
            if is_test_file(path) or in_tests:
                if is_test_file(path):
                    self.test_files.append(path)
                continue
            if any(path.is_relative_to(folder) for folder in migrations):
                continue
            name = self._module_name(path)
            if name is None or path.name in {"setup.py", "noxfile.py", "manage.py"}:
                continue
            tree = _parse(path)
            if tree is not None:
                self.modules[name] = Module(name, path, tree, path.name == "__init__.py")
        for module in self.modules.values():
            self._bind(module)
        self._closures: dict[str, frozenset[str]] = {}

    # --- layout -------------------------------------------------------------------------------
    def _module_name(self, path: Path) -> str | None:
        for source_root in self.source_roots:
            if path.is_relative_to(source_root):
                parts = list(path.relative_to(source_root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                if parts and all(part.isidentifier() for part in parts):
                    return ".".join(parts)
                return None
        return None

    def _migration_folders(self) -> list[Path]:
        folders = []
        for ini in self.alembic_inis():
            location = alembic_script_location(ini)
            if location is not None:
                folders.append(location)
        for path in walk_files(self.root):
            if path.name == "env.py" and (path.parent / "versions").is_dir():
                folders.append(path.parent)
        return folders

    def alembic_inis(self) -> list[Path]:
        return sorted(
            (path for path in walk_files(self.root, suffix="alembic.ini", limit=50)),
            key=lambda path: (len(path.relative_to(self.root).parts), str(path)),
        )

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    # --- names --------------------------------------------------------------------------------
    def _bind(self, module: Module) -> None:
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        for node in top_level(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._note_import(module, alias.name)
                    if alias.asname:
                        module.bindings[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        module.bindings[top] = (top, None)
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, package)
                if source is None:
                    continue
                self._note_import(module, source)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    submodule = f"{source}.{alias.name}"
                    if submodule in self.modules:
                        self._note_import(module, submodule)
                        module.bindings[alias.asname or alias.name] = (submodule, None)
                    else:
                        module.bindings[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                module.bindings[node.name] = (module.name, node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        module.bindings[target.id] = (module.name, target.id)

    def _note_import(self, module: Module, name: str) -> None:
        parts = name.split(".")
        for index in range(1, len(parts) + 1):
            candidate = ".".join(parts[:index])
            if candidate in self.modules:
                module.imports.add(candidate)

    def closure(self, name: str) -> frozenset[str]:
        """The project modules that importing ``name`` imports (itself and its packages too)."""
        if name in self._closures:
            return self._closures[name]
        seen: set[str] = set()
        stack = [name]
        parts = name.split(".")
        stack.extend(".".join(parts[:index]) for index in range(1, len(parts)))
        while stack:
            current = stack.pop()
            if current in seen or current not in self.modules:
                continue
            seen.add(current)
            stack.extend(self.modules[current].imports)
        result = frozenset(seen)
        self._closures[name] = result
        return result

    def qualname(self, module: Module, node: ast.expr, depth: int = 0) -> str | None:
        """The dotted name an expression refers to: ``Depends`` -> ``fastapi.Depends``."""
        if isinstance(node, ast.Name):
            bound = module.bindings.get(node.id)
            if bound is None:
                return None
            return self._canonical(*bound, depth=depth)
        if isinstance(node, ast.Attribute):
            base = self.qualname(module, node.value, depth)
            if base is None:
                return None
            if base in self.modules:
                return self._canonical(base, node.attr, depth=depth)
            return f"{base}.{node.attr}"
        if isinstance(node, ast.Call):
            return None
        return None

    def _canonical(self, source: str, attribute: str | None, depth: int = 0) -> str:
        """Follow re-exports inside the project: ``app.db:Base`` imported from ``app.db.base``."""
        if attribute is None:
            return source
        target = self.modules.get(source)
        if target is not None and depth < 8:
            bound = target.bindings.get(attribute)
            if bound is not None and bound != (source, attribute):
                return self._canonical(*bound, depth=depth + 1)
        return f"{source}.{attribute}"

    def binding_names(self, module: Module, qualname: str) -> list[str]:
        """The names by which ``module`` refers to ``qualname`` at its top level."""
        names = []
        for name, bound in module.bindings.items():
            if self._canonical(*bound) == qualname:
                names.append(name)
        return sorted(names, key=lambda name: (name.startswith("_"), len(name)))

    def definition(self, qualname: str) -> tuple[Module, ast.AST] | None:
        """The class, function or assignment a project qualname names."""
        module_name, _, attribute = qualname.rpartition(".")
        module = self.modules.get(module_name)
        if module is None:
            return None
        for node in top_level(module.tree):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name == attribute:
                    return module, node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == attribute for t in targets):
                    return module, node
        return None

    def pyproject(self) -> dict[str, Any]:
        return read_pyproject(self.root)


def read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return {}


def pytest_ini(root: Path) -> tuple[str, dict[str, str]]:
    """pytest's ini options and the file that holds them (pytest.ini, pyproject.toml, ...)."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return name, _ini_section(root / name, "pytest")
    table = read_pyproject(root).get("tool", {}).get("pytest", {}).get("ini_options")
    if isinstance(table, dict):
        return "pyproject.toml", {str(k): _ini_text(v) for k, v in table.items()}
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (root / name).is_file():
            options = _ini_section(root / name, section)
            if options:
                return name, options
    return "", {}


def _ini_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _ini_section(path: Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return {}
    if not parser.has_section(section):
        return {}
    return dict(parser.items(section))


def alembic_script_location(ini: Path) -> Path | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback=None)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    if not location:
        return None
    location = location.replace("%(here)s", str(ini.parent))
    if ":" in location and not Path(location).exists():
        return None  # a package resource ("myapp:migrations")
    folder = Path(location)
    return (folder if folder.is_absolute() else ini.parent / folder).resolve()


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base) or None


def top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Module-level statements, including those inside top-level if/try blocks."""
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If):
            stack.extend(reversed(node.body + node.orelse))
        elif isinstance(node, ast.Try):
            stack.extend(reversed(node.body + node.orelse + node.finalbody))
            for handler in node.handlers:
                stack.extend(reversed(handler.body))
