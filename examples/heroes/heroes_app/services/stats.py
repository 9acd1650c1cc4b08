"""Counts for the dashboard, straight from a Core connection."""

from sqlalchemy import func, select
from sqlmodel import col

from heroes_app.db import engine
from heroes_app.models import AuditEntry, Hero, Stats, Team


def collect_stats() -> Stats:
    heroes = select(func.count()).select_from(Hero)
    with engine.connect() as conn:
        return Stats(
            heroes=conn.execute(heroes).scalar_one(),
            teams=conn.execute(select(func.count()).select_from(Team)).scalar_one(),
            heroes_without_team=conn.execute(
                heroes.where(col(Hero.team_id).is_(None))
            ).scalar_one(),
            audit_entries=conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        )
