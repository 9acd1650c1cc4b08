"""Teams: ORM for the CRUD, Core statements for disbanding."""

from fastapi import HTTPException, status
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from heroes_app.db import engine
from heroes_app.models import DisbandResult, Hero, Team, TeamCreate, TeamUpdate


def get_team_or_404(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Team not found")
    return team


def _name_taken(session: Session, name: str, *, other_than: int | None = None) -> bool:
    statement = select(Team.id).where(Team.name == name)
    if other_than is not None:
        statement = statement.where(Team.id != other_than)
    return session.exec(statement).first() is not None


def _conflict(name: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=f"A team named {name!r} already exists")


def _commit_or_conflict(session: Session, name: str) -> None:
    # The check above answers nearly always; the unique index settles a race between two requests.
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _conflict(name) from None


def list_teams(session: Session, *, offset: int, limit: int) -> list[Team]:
    statement = select(Team).order_by(col(Team.id)).offset(offset).limit(limit)
    return list(session.exec(statement).all())


def create_team(session: Session, data: TeamCreate) -> Team:
    if _name_taken(session, data.name):
        raise _conflict(data.name)
    team = Team.model_validate(data)
    session.add(team)
    _commit_or_conflict(session, data.name)
    session.refresh(team)
    return team


def update_team(session: Session, team: Team, data: TeamUpdate) -> Team:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and _name_taken(session, changes["name"], other_than=team.id):
        raise _conflict(changes["name"])
    team.sqlmodel_update(changes)
    session.add(team)
    _commit_or_conflict(session, team.name)
    session.refresh(team)
    return team


def delete_team(session: Session, team: Team) -> None:
    # The ORM loads team.heroes and sets their team_id to NULL before deleting the team.
    session.delete(team)
    session.commit()


def disband_team(team_id: int) -> DisbandResult | None:
    """Release every hero of the team and delete it, in one transaction, without the ORM.

    Two set-based statements instead of loading the team and its heroes: this is what the
    nightly clean-up job calls too, for teams with thousands of members. None if no such team.
    """
    with engine.begin() as conn:
        released = conn.execute(
            update(Hero).where(col(Hero.team_id) == team_id).values(team_id=None)
        ).rowcount
        deleted = conn.execute(delete(Team).where(col(Team.id) == team_id)).rowcount
        if deleted == 0:
            # Nothing to disband; nothing was released either (no hero can point at no team).
            return None
    return DisbandResult(team_id=team_id, heroes_released=released)
