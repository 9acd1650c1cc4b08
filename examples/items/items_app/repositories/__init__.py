"""Data access: one repository per aggregate, all built on `BaseRepository`."""

from items_app.repositories.base import BaseRepository, InvalidFilterError, PageResult
from items_app.repositories.category import CategoryRepository
from items_app.repositories.item import ItemRepository
from items_app.repositories.user import SessionRepository, UserRepository

__all__ = [
    "BaseRepository",
    "CategoryRepository",
    "InvalidFilterError",
    "ItemRepository",
    "PageResult",
    "SessionRepository",
    "UserRepository",
]
