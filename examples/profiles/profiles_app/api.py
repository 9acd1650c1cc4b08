from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from profiles_app.db import get_session
from profiles_app.models import Profile
from profiles_app.schemas import ProfileCreate, ProfileRead

router = APIRouter(prefix="/api/profiles", tags=["profiles"])
Session = Annotated[AsyncSession, Depends(get_session)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProfileRead)
async def create_profile(payload: ProfileCreate, session: Session) -> Profile:
    profile = Profile(name=payload.name)
    session.add(profile)
    await session.commit()
    return profile


@router.get("", response_model=list[ProfileRead])
async def list_profiles(session: Session) -> list[Profile]:
    return list(await session.scalars(select(Profile).order_by(Profile.name)))


@router.get("/{profile_id}", response_model=ProfileRead)
async def get_profile(profile_id: UUID, session: Session) -> Profile:
    profile = await session.get(Profile, profile_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Profile not found")
    return profile
