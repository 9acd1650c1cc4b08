"""A generic async repository: CRUD, pagination, filters, bulk operations and soft delete.

    class ItemRepository(BaseRepository[Item]):
        model = Item

    repo = ItemRepository(session)
    page = await repo.paginate(page=1, size=20, filters={"name__ilike": "lamp"})

Filters are `{"field": value}` (equality) or `{"field__<op>": value}` with the operators of
`FILTER_OPERATORS`. Soft-deleted rows are left out of every read unless `include_deleted=True`.
The repository flushes but never commits: the service owns the transaction.
"""

from __future__ import annotations

import builtins
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from items_app.core.errors import ValidationError
from items_app.db.base import Base, SoftDeleteMixin, TimestampMixin, utcnow

ModelT = TypeVar("ModelT", bound=Base)

FILTER_OPERATORS: dict[str, Callable[[InstrumentedAttribute[Any], Any], ColumnElement[bool]]] = {
    "eq": lambda column, value: column.is_(None) if value is None else column == value,
    # Case-insensitive "contains"; % and _ in the value match literally.
    "ilike": lambda column, value: column.icontains(value, autoescape=True),
    "in": lambda column, value: column.in_(list(value)),
    "gt": lambda column, value: column > value,
    "lt": lambda column, value: column < value,
}


class InvalidFilterError(ValidationError):
    default_message = "Invalid filter"


@dataclass(frozen=True)
class PageResult(Generic[ModelT]):
    items: Sequence[ModelT]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


class BaseRepository(Generic[ModelT]):
    """Subclass it and set `model`; every method works on that model's table."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- helpers ---------------------------------------------------------------------------

    @property
    def soft_deletable(self) -> bool:
        return issubclass(self.model, SoftDeleteMixin)

    @property
    def _timestamped(self) -> bool:
        return issubclass(self.model, TimestampMixin)

    def _column(self, name: str, key: str) -> InstrumentedAttribute[Any]:
        if name not in self.model.__mapper__.columns:
            allowed = sorted(self.model.__mapper__.columns.keys())
            raise InvalidFilterError(
                f"Unknown field {name!r} in filter {key!r} on {self.model.__name__}",
                details={"filter": key, "allowed_fields": allowed},
            )
        column: InstrumentedAttribute[Any] = getattr(self.model, name)
        return column

    def _conditions(
        self, filters: Mapping[str, Any] | None, include_deleted: bool
    ) -> builtins.list[ColumnElement[bool]]:
        conditions: builtins.list[ColumnElement[bool]] = []
        for key, value in (filters or {}).items():
            name, _, operator = key.partition("__")
            if (build := FILTER_OPERATORS.get(operator or "eq")) is None:
                raise InvalidFilterError(
                    f"Unknown operator {operator!r} in filter {key!r}",
                    details={"filter": key, "allowed_operators": sorted(FILTER_OPERATORS)},
                )
            conditions.append(build(self._column(name, key), value))
        if self.soft_deletable and not include_deleted:
            conditions.append(self.model.deleted_at.is_(None))
        return conditions

    def _default_order(self) -> builtins.list[Any]:
        # id breaks ties, so pages never overlap or skip rows.
        if self._timestamped:
            return [self.model.created_at, self.model.id]
        return [self.model.id]

    def _select(
        self, filters: Mapping[str, Any] | None = None, *, include_deleted: bool = False
    ) -> Select[Any]:
        return select(self.model).where(*self._conditions(filters, include_deleted))

    # -- reads -----------------------------------------------------------------------------

    async def get(self, id: uuid.UUID, *, include_deleted: bool = False) -> ModelT | None:
        stmt = self._select({"id": id}, include_deleted=include_deleted)
        return (await self.session.scalars(stmt)).first()

    async def get_by(self, *, include_deleted: bool = False, **filters: Any) -> ModelT | None:
        stmt = self._select(filters, include_deleted=include_deleted).limit(1)
        return (await self.session.scalars(stmt)).first()

    async def exists(
        self, filters: Mapping[str, Any] | None = None, *, include_deleted: bool = False
    ) -> bool:
        return await self.get_by(include_deleted=include_deleted, **(filters or {})) is not None

    async def list(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
        order_by: Sequence[Any] | None = None,
        include_deleted: bool = False,
    ) -> Sequence[ModelT]:
        stmt = self._select(filters, include_deleted=include_deleted)
        stmt = stmt.order_by(*(order_by or self._default_order())).offset(offset).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def count(
        self, filters: Mapping[str, Any] | None = None, *, include_deleted: bool = False
    ) -> int:
        stmt = select(func.count()).select_from(self.model)
        stmt = stmt.where(*self._conditions(filters, include_deleted))
        return (await self.session.scalar(stmt)) or 0

    async def paginate(
        self,
        *,
        page: int = 1,
        size: int = 20,
        filters: Mapping[str, Any] | None = None,
        order_by: Sequence[Any] | None = None,
        include_deleted: bool = False,
    ) -> PageResult[ModelT]:
        if page < 1 or size < 1:
            raise InvalidFilterError(
                "page and size start at 1", details={"page": page, "size": size}
            )
        total = await self.count(filters, include_deleted=include_deleted)
        items = await self.list(
            filters,
            offset=(page - 1) * size,
            limit=size,
            order_by=order_by,
            include_deleted=include_deleted,
        )
        return PageResult(items=items, total=total, page=page, size=size)

    # -- writes ----------------------------------------------------------------------------

    async def create(self, data: Mapping[str, Any]) -> ModelT:
        obj: ModelT = self.model(**data)
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def update(self, obj: ModelT, data: Mapping[str, Any]) -> ModelT:
        """Partial update: only the keys present in `data` change."""
        for key, value in data.items():
            self._column(key, key)
            setattr(obj, key, value)
        await self.session.flush()
        return obj

    async def soft_delete(self, obj: ModelT) -> ModelT:
        self._require_soft_delete()
        obj.deleted_at = utcnow()  # type: ignore[attr-defined]
        await self.session.flush()
        return obj

    async def restore(self, obj: ModelT) -> ModelT:
        self._require_soft_delete()
        obj.deleted_at = None  # type: ignore[attr-defined]
        await self.session.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        """Hard delete: the row is gone."""
        await self.session.delete(obj)
        await self.session.flush()

    # -- bulk ------------------------------------------------------------------------------

    async def bulk_create(self, rows: Iterable[Mapping[str, Any]]) -> builtins.list[ModelT]:
        objs: builtins.list[ModelT] = [self.model(**row) for row in rows]
        self.session.add_all(objs)
        await self.session.flush()
        return objs

    async def bulk_update(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Update many rows by id, each with its own values; returns how many rows changed.

        `rows` are mappings with an `id` key; soft-deleted rows are left alone.
        """
        updated = 0
        for row in rows:
            values = dict(row)
            row_id = values.pop("id")
            for key in values:
                self._column(key, key)
            if self._timestamped:
                values.setdefault("updated_at", utcnow())
            stmt = update(self.model).where(*self._conditions({"id": row_id}, False)).values(values)
            updated += (await self.session.execute(stmt)).rowcount  # type: ignore[attr-defined]
        return updated

    async def bulk_delete(self, ids: Iterable[uuid.UUID]) -> int:
        """Soft-delete many rows at once; returns how many live rows were deleted."""
        self._require_soft_delete()
        now = utcnow()
        values: dict[str, Any] = {"deleted_at": now}
        if self._timestamped:
            values["updated_at"] = now
        stmt = update(self.model).where(*self._conditions({"id__in": ids}, False)).values(values)
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _require_soft_delete(self) -> None:
        if not self.soft_deletable:
            raise TypeError(f"{self.model.__name__} has no deleted_at: use delete() instead")
