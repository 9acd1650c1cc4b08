"""TaskService and ProjectService: filters, permissions and bulk updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.exceptions import NotFoundError, PermissionDeniedError
from tasks_app.models import ProjectCreate, TaskCreate, TaskStatus, TaskUpdate, User, utcnow
from tasks_app.services.projects import ProjectService
from tasks_app.services.tasks import TaskService

from tests.factories import ProjectFactory, TaskFactory, UserFactory

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


@pytest.fixture
def tasks(db_session: AsyncSession) -> TaskService:
    return TaskService(db_session)


@pytest.fixture
def projects(db_session: AsyncSession) -> ProjectService:
    return ProjectService(db_session)


class TestProjects:
    async def test_create_loads_the_owner(self, projects: ProjectService, test_user: User) -> None:
        project = await projects.create_project(ProjectCreate(name="Apollo"), owner=test_user)
        assert project.id is not None
        assert project.owner.email == "test@example.com"

    async def test_list_filters(
        self, projects: ProjectService, db_session: AsyncSession, test_user: User
    ) -> None:
        mine = ProjectFactory(owner=test_user)
        archived = ProjectFactory(owner=test_user, is_archived=True)
        theirs = ProjectFactory()
        await db_session.commit()

        async def ids(**filters: bool) -> set[int | None]:
            return {p.id for p in await projects.list_projects(test_user, **filters)}

        assert await ids() == {mine.id, theirs.id}
        assert await ids(my_projects_only=True) == {mine.id}
        assert await ids(my_projects_only=True, include_archived=True) == {mine.id, archived.id}

    async def test_missing_project(self, projects: ProjectService) -> None:
        with pytest.raises(NotFoundError, match="Project 424242 not found"):
            await projects.get_project(424242)


class TestCreateTask:
    async def test_in_own_project(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        project = ProjectFactory(owner=test_user)
        await db_session.commit()

        task = await tasks.create_task(
            TaskCreate(title="Write tests", project_id=project.id, assignee_id=test_user.id),
            test_user,
        )

        assert (task.project.id, task.assignee.email, task.priority) == (
            project.id,
            test_user.email,
            3,
        )

    async def test_in_someone_elses_project(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        project = ProjectFactory()
        await db_session.commit()
        with pytest.raises(PermissionDeniedError):
            await tasks.create_task(TaskCreate(title="Sneaky", project_id=project.id), test_user)

    async def test_admins_may_add_anywhere(
        self, tasks: TaskService, db_session: AsyncSession, admin_user: User
    ) -> None:
        project = ProjectFactory()
        await db_session.commit()
        task = await tasks.create_task(TaskCreate(title="Help", project_id=project.id), admin_user)
        assert task.project.id == project.id

    async def test_unknown_assignee(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        project = ProjectFactory(owner=test_user)
        await db_session.commit()
        with pytest.raises(NotFoundError, match="User 99999 not found"):
            await tasks.create_task(
                TaskCreate(title="Ghost", project_id=project.id, assignee_id=99999), test_user
            )


class TestListTasks:
    async def test_status_filters(self, tasks: TaskService, db_session: AsyncSession) -> None:
        project = ProjectFactory()
        completed = TaskFactory.create_completed(project=project)
        pending = TaskFactory(project=project)
        undated = TaskFactory(project=project, due_date=None)
        overdue = TaskFactory.create_overdue(project=project)
        TaskFactory()  # in another project
        await db_session.commit()

        async def ids(status: TaskStatus | None) -> set[int | None]:
            return {t.id for t in await tasks.list_tasks(project_id=project.id, status=status)}

        assert await ids(TaskStatus.PENDING) == {pending.id, undated.id}
        assert await ids(TaskStatus.COMPLETED) == {completed.id}
        assert await ids(TaskStatus.OVERDUE) == {overdue.id}
        assert await ids(None) == {completed.id, pending.id, undated.id, overdue.id}

    async def test_by_assignee(self, tasks: TaskService, db_session: AsyncSession) -> None:
        ada = UserFactory()
        hers = TaskFactory(assignee=ada)
        TaskFactory()
        await db_session.commit()

        assert [t.id for t in await tasks.list_tasks(assignee_id=ada.id)] == [hers.id]


class TestBulkUpdate:
    async def test_completing_stamps_completed_at(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        batch = TaskFactory.create_batch(3, project=ProjectFactory(owner=test_user))
        await db_session.commit()
        before = utcnow()

        count = await tasks.bulk_update(
            [t.id for t in batch], TaskUpdate(is_completed=True), test_user
        )

        assert count == 3
        assert all(t.is_completed and t.completed_at >= before for t in batch)

    async def test_reopening_clears_completed_at(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        task = TaskFactory.create_completed(project=ProjectFactory(owner=test_user))
        await db_session.commit()

        await tasks.bulk_update([task.id], TaskUpdate(is_completed=False, priority=5), test_user)

        assert (task.is_completed, task.completed_at, task.priority) == (False, None, 5)

    async def test_skips_tasks_of_other_owners(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        mine = TaskFactory(project=ProjectFactory(owner=test_user))
        theirs = TaskFactory()
        await db_session.commit()

        count = await tasks.bulk_update(
            [mine.id, theirs.id, 99999], TaskUpdate(title="Renamed"), test_user
        )

        assert count == 1
        assert theirs.title != "Renamed"

    async def test_admins_update_any_task(
        self, tasks: TaskService, db_session: AsyncSession, admin_user: User
    ) -> None:
        batch = TaskFactory.create_batch(2)
        await db_session.commit()
        due = utcnow() + timedelta(days=30)

        count = await tasks.bulk_update([t.id for t in batch], TaskUpdate(due_date=due), admin_user)

        assert count == 2

    async def test_unknown_assignee(
        self, tasks: TaskService, db_session: AsyncSession, test_user: User
    ) -> None:
        task = TaskFactory(project=ProjectFactory(owner=test_user))
        await db_session.commit()
        with pytest.raises(NotFoundError):
            await tasks.bulk_update([task.id], TaskUpdate(assignee_id=99999), test_user)
