"""A user's own notes. Another user's note answers 404, exactly like a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status

from notes_app.dependencies import CurrentUser, Notes
from notes_app.models import Note
from notes_app.schemas import NoteCreateDTO, NoteDTO

router = APIRouter(prefix="/note", tags=["notes"])

NOTE_NOT_FOUND = "Note not found"


async def get_own_note(note_id: int, user: CurrentUser, notes: Notes) -> Note:
    note = await notes.get_note_by_id(note_id)
    if note is None or note.user_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NOTE_NOT_FOUND)
    return note


OwnNote = Annotated[Note, Depends(get_own_note)]


@router.post("/")
async def create_note(payload: NoteCreateDTO, user: CurrentUser, notes: Notes) -> NoteDTO:
    note = await notes.create_note(title=payload.title, body=payload.body, user_id=user.id)
    return NoteDTO.model_validate(note)


# Declared before "/{note_id}" so that "all" is never read as an id.
@router.get("/all")
async def list_notes(user: CurrentUser, notes: Notes) -> list[NoteDTO]:
    return [NoteDTO.model_validate(note) for note in await notes.list_notes_for_user(user.id)]


@router.get("/{note_id}")
async def get_note(note: OwnNote) -> NoteDTO:
    return NoteDTO.model_validate(note)


@router.put("/{note_id}")
async def update_note(payload: NoteCreateDTO, note: OwnNote, notes: Notes) -> NoteDTO:
    updated = await notes.update_note(note, title=payload.title, body=payload.body)
    return NoteDTO.model_validate(updated)


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_note(note: OwnNote, notes: Notes) -> Response:
    await notes.delete_note(note)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
