"""Write [tool.testbed] into pyproject.toml, keeping the user's formatting and comments.

A new table is appended as text (nothing else in the file moves); an existing one is edited
with tomlkit and only gets the keys it lacks, so values the user set are never replaced.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.items

from fastapi_testbed.cli.messages import BAD_PYPROJECT, CliError

__all__ = ["TableEdit", "diff", "edit_pyproject"]


@dataclass
class TableEdit:
    """The new text of pyproject.toml and what changed in its [tool.testbed] table."""

    path: Path
    old: str
    new: str
    added: list[str] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)  # keys the user had, left as they were

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _table(entries: Mapping[str, Any], comments: Mapping[str, str]) -> tomlkit.items.Table:
    table = tomlkit.table()
    for key, value in entries.items():
        if key.startswith("#"):
            table.add(tomlkit.comment(str(value)))
            continue
        table.add(key, _commented(_item(value), comments.get(key)))
    return table


def _commented(item: tomlkit.items.Item, comment: str | None) -> tomlkit.items.Item:
    if comment:
        item.comment(comment)
        item.trivia.comment_ws = "  "
    return item


def _item(value: Any) -> tomlkit.items.Item:
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        inline.update({str(k): str(v) for k, v in value.items()})
        if len(inline.as_string()) <= 70:
            return inline
        table = tomlkit.table()  # [tool.testbed.env]: one line each, as long tables read best
        table.update({str(k): str(v) for k, v in value.items()})
        return table
    item: tomlkit.items.Item = tomlkit.item(value)
    return item


def edit_pyproject(
    root: Path, entries: Mapping[str, Any], comments: Mapping[str, str] | None = None
) -> TableEdit:
    """The pyproject.toml of ``root`` with ``entries`` in its [tool.testbed] table."""
    comments = comments or {}
    path = root / "pyproject.toml"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        existing = tomllib.loads(old).get("tool", {}).get("testbed")
    except tomllib.TOMLDecodeError as exc:
        raise CliError(BAD_PYPROJECT.format(path=path, error=exc)) from None
    edit = TableEdit(path=path, old=old, new=old)
    if existing is None:
        document = tomlkit.document()
        tool = tomlkit.table(is_super_table=True)
        tool.add("testbed", _table(entries, comments))
        document.add("tool", tool)
        block = tomlkit.dumps(document)
        body = old.rstrip()
        edit.new = (body + "\n\n" if body else "") + block.lstrip("\n")
        edit.added = [key for key in entries if not key.startswith("#")]
    else:
        document = tomlkit.parse(old)
        table: Any = document["tool"]["testbed"]
        for key, value in entries.items():
            if key.startswith("#"):
                continue
            if key in existing:
                edit.kept[key] = existing[key]
                continue
            if key == "metadata" and "alembic_ini" in existing:
                continue  # the user chose migrations; both would also check the models
            if key == "alembic_ini" and "metadata" in existing:
                continue
            table.add(key, _commented(_item(value), comments.get(key)))
            edit.added.append(key)
        edit.new = tomlkit.dumps(document)
    tomllib.loads(edit.new)  # what we write must read back
    return edit


def diff(edit: TableEdit) -> str:
    name = edit.path.name
    lines = difflib.unified_diff(
        edit.old.splitlines(keepends=True),
        edit.new.splitlines(keepends=True),
        fromfile=f"{name} (now)" if edit.old else "/dev/null",
        tofile=f"{name} (new)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
