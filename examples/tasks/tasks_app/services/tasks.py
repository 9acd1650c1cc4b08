"""TaskService: create, filter and bulk-update tasks."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tasks_app.exceptions import NotFoundError, PermissionDeniedError
from tasks_app.models import Project, Task, TaskCreate, TaskStatus, TaskUpdate, User, utcnow
from tasks_app.services.projects import ProjectService


class TaskService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.projects = ProjectService(session)

    async def create_task(self, data: TaskCreate, user: User) -> Task:
        """Add a task to a project the user owns (admins: any project)."""
        project = await self.projects.get_project(data.project_id)
        if project.owner_id != user.id and not user.is_admin:
            raise PermissionDeniedError("Only the project owner may add tasks to it")
        await self._check_assignee(data.assignee_id)
        task = Task.model_validate(data)
        self.session.add(task)
        await self.session.commit()
        await self.session.refresh(task, attribute_names=["project", "assignee"])
        return task

    async def _check_assignee(self, assignee_id: int | None) -> None:
        if assignee_id is not None and await self.session.get(User, assignee_id) is None:
            raise NotFoundError(f"User {assignee_id} not found")

    async def list_tasks(
        self,
        *,
        project_id: int | None = None,
        assignee_id: int | None = None,
        status: TaskStatus | None = None,
        skip: int = 0,
        limit: int = 100,
    ) -> list[Task]:
        """Tasks by project, assignee and status. `pending`: open and not past due;
        `overdue`: open and past due; `completed`: done."""
        statement = select(Task)
        if project_id is not None:
            statement = statement.where(Task.project_id == project_id)
        if assignee_id is not None:
            statement = statement.where(Task.assignee_id == assignee_id)
        now = utcnow()
        if status is TaskStatus.COMPLETED:
            statement = statement.where(col(Task.is_completed).is_(True))
        elif status is TaskStatus.PENDING:
            statement = statement.where(
                col(Task.is_completed).is_(False),
                or_(col(Task.due_date).is_(None), col(Task.due_date) >= now),
            )
        elif status is TaskStatus.OVERDUE:
            statement = statement.where(col(Task.is_completed).is_(False), col(Task.due_date) < now)
        result = await self.session.exec(statement.order_by(col(Task.id)).offset(skip).limit(limit))
        return list(result.all())

    async def bulk_update(self, task_ids: list[int], data: TaskUpdate, user: User) -> int:
        """Apply `data` to those of `task_ids` in projects the user owns (admins: all);
        returns how many tasks changed."""
        statement = select(Task).where(col(Task.id).in_(set(task_ids)))
        if not user.is_admin:
            statement = statement.join(Project).where(Project.owner_id == user.id)
        changes = data.model_dump(exclude_unset=True)
        await self._check_assignee(changes.get("assignee_id"))
        tasks = list((await self.session.exec(statement)).all())
        for task in tasks:
            apply_task_changes(task, changes)
        await self.session.commit()
        return len(tasks)


def apply_task_changes(task: Task, changes: dict[str, object]) -> None:
    """Set fields; completing a task stamps `completed_at`, reopening clears it."""
    for field, value in changes.items():
        setattr(task, field, value)
    if "is_completed" in changes:
        if task.is_completed and task.completed_at is None:
            task.completed_at = utcnow()
        elif not task.is_completed:
            task.completed_at = None
