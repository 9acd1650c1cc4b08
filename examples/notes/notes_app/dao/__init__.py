"""Data access objects: the only code that queries the database."""

from notes_app.dao.note_dao import NoteDAO
from notes_app.dao.user_dao import UserDAO, UsernameTakenError

__all__ = ["NoteDAO", "UserDAO", "UsernameTakenError"]
