"""Assertions on the test database, as Laravel's assertDatabaseHas: what the rows say now.

    assert_database_has(User, email="ada@example.com", active=True)
    assert_database_missing(User, email="bob@example.com")
    assert_database_count(Note, 2)                # or assert_database_count(Note, 1, owner_id=7)

Each reads through the app's engine of the database that holds the model's table, inside the
test's isolation: it sees what the app wrote and the test flushed. A failure lists the rows
that come closest (most of the asked columns equal), each mismatch beside the wanted value.
They work in ``def`` and ``async def`` tests, for sync and async apps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoInspectionAvailable

from fastapi_testbed.binding import BoundEngine, current_binder
from fastapi_testbed.errors import NO_DATABASE, NO_SUCH_COLUMN, NOT_A_MODEL, TestbedError
from fastapi_testbed.urls import app_database_name

__all__ = [
    "MATCHING_ROWS",
    "NO_MATCHING_ROW",
    "WRONG_ROW_COUNT",
    "assert_database_count",
    "assert_database_has",
    "assert_database_missing",
]

NO_MATCHING_ROW = "No row of table {table} has {wanted}.\n{closest}"
MATCHING_ROWS = "Expected no row of table {table} with {wanted}, found {count}:\n{rows}"
WRONG_ROW_COUNT = "Expected {expected} row(s) in table {table}{where}, found {count}:\n{rows}"
SHOWN = 5  # closest rows listed in a failure
SCANNED = 1000  # rows read to find the closest

T = TypeVar("T")


class _Target:
    """A model (or Table): its table, its columns by attribute name, its primary key."""

    def __init__(self, model: Any) -> None:
        self.model = model
        if isinstance(model, Table):
            self.table = model
            self.name = model.name
            self.columns: dict[str, Any] = {column.key: column for column in model.columns}
            self.key = [(column.key, column) for column in model.primary_key.columns]
            return
        try:
            mapper = inspect(model)
        except NoInspectionAvailable:
            raise TestbedError(NOT_A_MODEL.format(name=repr(model))) from None
        if not hasattr(mapper, "column_attrs"):
            raise TestbedError(NOT_A_MODEL.format(name=repr(model)))
        self.table = mapper.local_table
        self.name = getattr(model, "__name__", repr(model))
        self.columns = {prop.key: getattr(model, prop.key) for prop in mapper.column_attrs}
        self.key = [
            (prop.key, getattr(model, prop.key))
            for prop in (mapper.get_property_by_column(c) for c in mapper.primary_key)
        ]

    def expressions(self, names: Iterable[str]) -> list[Any]:
        found = []
        for name in names:
            if name not in self.columns:
                raise TestbedError(
                    NO_SUCH_COLUMN.format(
                        model=self.name, name=name, columns=", ".join(self.columns)
                    )
                )
            found.append(self.columns[name])
        return found


def _bound_for(table: Any, function: str) -> BoundEngine:
    """An app engine of the test database that holds ``table`` (the main one by default)."""
    binder = current_binder()
    engines = binder.live_engines() if binder is not None else []
    if binder is None or not engines:
        raise TestbedError(NO_DATABASE.format(function=function))
    holding = [
        bound
        for bound in engines
        if (metadata := getattr(bound.group.database, "metadata", None)) is not None
        and metadata.tables.get(table.key) is table
    ]
    main = binder.urls.main_test_name
    candidates = holding or [b for b in engines if app_database_name(b.test_url) == main] or engines
    return min(candidates, key=lambda bound: bound.is_async)  # a sync engine needs no loop


def _read(table: Any, function: str, work: Callable[[Connection], T]) -> T:
    bound = _bound_for(table, function)
    engine = bound.engine
    assert engine is not None

    def run() -> T:
        with engine.connect() as connection:
            return work(connection)

    if bound.is_async:  # the sync facade of an async driver: on the plugin's loop
        return bound.group.binder.run_in_greenlet(run)  # type: ignore[no-any-return]
    return run()


def _render(value: Any) -> str:
    return repr(value)


def _row_text(
    names: Sequence[str], values: Sequence[Any], wanted: Mapping[str, Any] | None = None
) -> str:
    parts = []
    for name, value in zip(names, values, strict=True):
        text = f"{name}={_render(value)}"
        if wanted is not None and name in wanted and value != wanted[name]:
            text += f" (wanted {_render(wanted[name])})"
        parts.append(text)
    return ", ".join(parts)


def _wanted_text(columns: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={_render(value)}" for name, value in columns.items()) or "any values"


def _scan(
    target: _Target, columns: Mapping[str, Any], where: Mapping[str, Any]
) -> tuple[int, list[str], list[tuple[Any, ...]]]:
    """(matching rows, the names shown, up to SCANNED rows: key columns, then the asked ones)."""
    key_names = [name for name, _ in target.key if name not in columns]
    names = [*key_names, *columns]
    shown = [*(expr for name, expr in target.key if name not in columns)]
    shown += target.expressions(columns)
    conditions = [
        expr == value for expr, value in zip(target.expressions(where), where.values(), strict=True)
    ]

    def work(connection: Connection) -> tuple[int, list[tuple[Any, ...]]]:
        count = connection.execute(
            select(func.count()).select_from(target.table).where(*conditions)
        ).scalar_one()
        order = [expr for _, expr in target.key]
        rows = connection.execute(select(*shown).order_by(*order).limit(SCANNED)).all()
        return count, [tuple(row) for row in rows]

    count, rows = _read(target.table, "the assertion", work)
    return count, names, rows


def _closest(
    names: list[str], rows: list[tuple[Any, ...]], wanted: Mapping[str, Any], total: int
) -> str:
    if not rows:
        return "The table is empty."

    def score(row: tuple[Any, ...]) -> int:
        values = dict(zip(names, row, strict=True))
        return sum(1 for name, value in wanted.items() if values.get(name) == value)

    best = sorted(rows, key=score, reverse=True)[:SHOWN]
    lines = "\n".join(f"  {_row_text(names, row, wanted)}" for row in best)
    return f"The closest of its {total} row(s):\n{lines}"


def _total(target: _Target) -> int:
    return _read(
        target.table,
        "the assertion",
        lambda c: c.execute(select(func.count()).select_from(target.table)).scalar_one(),
    )


def assert_database_has(model: Any, **columns: Any) -> None:
    """Fail unless a row of ``model``'s table has these column values.

    Example::

        assert_database_has(User, email="ada@example.com", active=True)
    """
    __tracebackhide__ = True  # the failure points at the test's line
    target = _Target(model)
    count, names, rows = _scan(target, columns, columns)
    if count:
        return
    closest = _closest(names, rows, columns, _total(target))
    raise AssertionError(
        NO_MATCHING_ROW.format(
            table=target.table.name, wanted=_wanted_text(columns), closest=closest
        )
    )


def assert_database_missing(model: Any, **columns: Any) -> None:
    """Fail if a row of ``model``'s table has these column values (any row, without columns).

    Example::

        assert_database_missing(User, email="bob@example.com")
    """
    __tracebackhide__ = True  # the failure points at the test's line
    target = _Target(model)
    count, names, rows = _scan(target, columns, columns)
    if not count:
        return
    values = [dict(zip(names, row, strict=True)) for row in rows]
    matching = [
        row
        for row, named in zip(rows, values, strict=True)
        if all(named.get(name) == value for name, value in columns.items())
    ] or rows
    listed = "\n".join(f"  {_row_text(names, row)}" for row in matching[:SHOWN])
    raise AssertionError(
        MATCHING_ROWS.format(
            table=target.table.name, wanted=_wanted_text(columns), count=count, rows=listed
        )
    )


def assert_database_count(model: Any, expected: int, **columns: Any) -> None:
    """Fail unless ``model``'s table holds ``expected`` rows (with these column values, if any).

    Example::

        assert_database_count(Note, 2)
        assert_database_count(Note, 1, owner_id=ada.id)
    """
    __tracebackhide__ = True  # the failure points at the test's line
    target = _Target(model)
    count, names, rows = _scan(target, columns, columns)
    if count == expected:
        return
    if columns:
        values = [dict(zip(names, row, strict=True)) for row in rows]
        rows = [
            row
            for row, named in zip(rows, values, strict=True)
            if all(named.get(name) == value for name, value in columns.items())
        ]
    listed = "\n".join(f"  {_row_text(names, row)}" for row in rows[:SHOWN])
    if count > SHOWN:
        listed += f"\n  ... and {count - SHOWN} more"
    where = f" with {_wanted_text(columns)}" if columns else ""
    raise AssertionError(
        WRONG_ROW_COUNT.format(
            expected=expected,
            table=target.table.name,
            where=where,
            count=count,
            rows=listed or "  (none)",
        )
    )
