from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from heroes_app.db import SessionDep
from heroes_app.models import (
    DisbandResult,
    Message,
    Team,
    TeamCreate,
    TeamPublic,
    TeamPublicWithHeroes,
    TeamUpdate,
)
from heroes_app.services import teams as service

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post("/", response_model=TeamPublic, status_code=status.HTTP_201_CREATED)
def create_team(team: TeamCreate, session: SessionDep) -> Team:
    return service.create_team(session, team)


@router.get("/", response_model=list[TeamPublic])
def read_teams(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[Team]:
    return service.list_teams(session, offset=offset, limit=limit)


@router.get("/{team_id}", response_model=TeamPublicWithHeroes)
def read_team(team_id: int, session: SessionDep) -> Team:
    return service.get_team_or_404(session, team_id)


@router.patch("/{team_id}", response_model=TeamPublic)
def update_team(team_id: int, team: TeamUpdate, session: SessionDep) -> Team:
    db_team = service.get_team_or_404(session, team_id)
    return service.update_team(session, db_team, team)


@router.delete("/{team_id}", response_model=Message)
def delete_team(team_id: int, session: SessionDep) -> Message:
    team = service.get_team_or_404(session, team_id)
    service.delete_team(session, team)
    return Message(ok=True)


@router.post("/{team_id}/disband", response_model=DisbandResult)
def disband_team(team_id: int) -> DisbandResult:
    result = service.disband_team(team_id)
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Team not found")
    return result
