"""ProjectService: create and list projects."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.exceptions import NotFoundError
from tasks_app.models import Project, ProjectCreate, User


class ProjectService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_project(self, data: ProjectCreate, owner: User) -> Project:
        project = Project(name=data.name, description=data.description, owner_id=owner.id)
        self.session.add(project)
        await self.session.commit()
        # Load `owner` through this session (the given `owner` may belong to another one).
        await self.session.refresh(project, attribute_names=["owner"])
        return project

    async def get_project(self, project_id: int) -> Project:
        project = await self.session.get(Project, project_id)
        if project is None:
            raise NotFoundError(f"Project {project_id} not found")
        return project

    async def list_projects(
        self,
        user: User,
        *,
        my_projects_only: bool = False,
        include_archived: bool = False,
        skip: int = 0,
        limit: int = 100,
    ) -> list[Project]:
        statement = select(Project)
        if my_projects_only:
            statement = statement.where(Project.owner_id == user.id)
        if not include_archived:
            statement = statement.where(col(Project.is_archived).is_(False))
        result = await self.session.exec(
            statement.order_by(col(Project.id)).offset(skip).limit(limit)
        )
        return list(result.all())
