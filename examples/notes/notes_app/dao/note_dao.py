"""Notes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notes_app.models import Note


class NoteDAO:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def create_note(self, *, title: str, body: str, user_id: int) -> Note:
        note = Note(title=title, body=body, user_id=user_id)
        self.db.add(note)
        await self.db.commit()
        return note

    async def get_note_by_id(self, note_id: int) -> Note | None:
        # A query, not Session.get(): it must see rows deleted by other sessions.
        return await self.db.scalar(select(Note).where(Note.note_id == note_id))

    async def list_notes_for_user(self, user_id: int) -> Sequence[Note]:
        """The user's notes, oldest first (ids are assigned in insertion order)."""
        query = select(Note).where(Note.user_id == user_id).order_by(Note.note_id)
        return (await self.db.scalars(query)).all()

    async def update_note(self, note: Note, *, title: str, body: str) -> Note:
        note.title = title
        note.body = body
        await self.db.commit()
        return note

    async def delete_note(self, note: Note) -> None:
        await self.db.delete(note)
        await self.db.commit()
