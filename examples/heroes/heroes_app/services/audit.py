"""The audit trail, written after the response has gone out."""

import logging

from sqlmodel import Session

from heroes_app.db import engine
from heroes_app.models import AuditEntry

logger = logging.getLogger(__name__)


def record_hero_event(action: str, hero_id: int | None) -> None:
    """Run as a FastAPI background task: the request's session is closed by now, so open one."""
    with Session(engine) as session:
        session.add(AuditEntry(action=action, hero_id=hero_id))
        session.commit()
    logger.info("audit: %s hero=%s", action, hero_id)
