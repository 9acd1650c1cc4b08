"""Heroes through the request's ORM session."""

from fastapi import HTTPException, status
from sqlmodel import Session, col, select

from heroes_app.models import Hero, HeroCreate, HeroUpdate, Team


def get_hero_or_404(session: Session, hero_id: int) -> Hero:
    hero = session.get(Hero, hero_id)
    if hero is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Hero not found")
    return hero


def ensure_team_exists(session: Session, team_id: int | None) -> None:
    # SQLite does not enforce foreign keys by default: check, so every database answers alike.
    if team_id is not None and session.get(Team, team_id) is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"Team {team_id} does not exist"
        )


def list_heroes(session: Session, *, offset: int, limit: int) -> list[Hero]:
    statement = select(Hero).order_by(col(Hero.id)).offset(offset).limit(limit)
    return list(session.exec(statement).all())


def create_hero(session: Session, data: HeroCreate) -> Hero:
    ensure_team_exists(session, data.team_id)
    hero = Hero.model_validate(data)
    session.add(hero)
    session.commit()
    session.refresh(hero)
    return hero


def update_hero(session: Session, hero: Hero, data: HeroUpdate) -> Hero:
    changes = data.model_dump(exclude_unset=True)
    if "team_id" in changes:
        ensure_team_exists(session, changes["team_id"])
    hero.sqlmodel_update(changes)
    session.add(hero)
    session.commit()
    session.refresh(hero)
    return hero


def delete_hero(session: Session, hero: Hero) -> None:
    session.delete(hero)
    session.commit()
