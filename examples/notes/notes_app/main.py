"""The ASGI application: ``uvicorn notes_app.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from notes_app.routers import auth, notes

app = FastAPI(title="Notes App", summary="Private notes behind JWT authentication.")
app.include_router(auth.router)
app.include_router(notes.router)
