from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tasks_app.deps import CurrentUser, ProjectServiceDep
from tasks_app.models import Project, ProjectCreate, ProjectRead

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post("", response_model=ProjectRead, status_code=status.HTTP_201_CREATED)
async def create_project(
    data: ProjectCreate, projects: ProjectServiceDep, current_user: CurrentUser
) -> Project:
    return await projects.create_project(data, owner=current_user)


@router.get("", response_model=list[ProjectRead])
async def list_projects(
    projects: ProjectServiceDep,
    current_user: CurrentUser,
    my_projects_only: bool = False,
    include_archived: bool = False,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[Project]:
    return await projects.list_projects(
        current_user,
        my_projects_only=my_projects_only,
        include_archived=include_archived,
        skip=skip,
        limit=limit,
    )
