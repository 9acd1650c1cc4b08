"""ORM models; importing this package registers every table on `Base.metadata`."""

from items_app.models.category import Category
from items_app.models.item import Item
from items_app.models.user import User, UserSession

__all__ = ["Category", "Item", "User", "UserSession"]
