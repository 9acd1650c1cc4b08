from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, status

from heroes_app.db import SessionDep
from heroes_app.models import (
    Hero,
    HeroCreate,
    HeroPublic,
    HeroPublicWithTeam,
    HeroUpdate,
    Message,
)
from heroes_app.services import heroes as service
from heroes_app.services.audit import record_hero_event

router = APIRouter(prefix="/heroes", tags=["heroes"])


@router.post("/", response_model=HeroPublic, status_code=status.HTTP_201_CREATED)
def create_hero(hero: HeroCreate, session: SessionDep, background_tasks: BackgroundTasks) -> Hero:
    db_hero = service.create_hero(session, hero)
    background_tasks.add_task(record_hero_event, "hero.created", db_hero.id)
    return db_hero


@router.get("/", response_model=list[HeroPublic])
def read_heroes(
    session: SessionDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[Hero]:
    return service.list_heroes(session, offset=offset, limit=limit)


@router.get("/{hero_id}", response_model=HeroPublicWithTeam)
def read_hero(hero_id: int, session: SessionDep) -> Hero:
    return service.get_hero_or_404(session, hero_id)


@router.patch("/{hero_id}", response_model=HeroPublic)
def update_hero(hero_id: int, hero: HeroUpdate, session: SessionDep) -> Hero:
    db_hero = service.get_hero_or_404(session, hero_id)
    return service.update_hero(session, db_hero, hero)


@router.delete("/{hero_id}", response_model=Message)
def delete_hero(hero_id: int, session: SessionDep, background_tasks: BackgroundTasks) -> Message:
    hero = service.get_hero_or_404(session, hero_id)
    service.delete_hero(session, hero)
    background_tasks.add_task(record_hero_event, "hero.deleted", hero_id)
    return Message(ok=True)
