"""The /projects and /tasks endpoints through HTTP."""

from __future__ import annotations

import pytest
from httpx2 import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession
from tasks_app.models import User

from tests.factories import ProjectFactory, TaskFactory, UserFactory

# Every test of this module starts with the standard user and admin (written once for it).
pytestmark = pytest.mark.usefixtures("standard_users")


class TestProjects:
    async def test_create_requires_auth(self, client: AsyncClient) -> None:
        response = await client.post("/projects", json={"name": "Test", "description": "Test"})
        assert response.status_code in (401, 403)

    async def test_create(self, client: AsyncClient, auth_headers: dict[str, str]) -> None:
        response = await client.post(
            "/projects",
            json={"name": "My Project", "description": "Project description"},
            headers=auth_headers,
        )

        assert response.status_code == 201
        data = response.json()
        assert data["name"] == "My Project"
        assert data["owner"]["email"] == "test@example.com"
        assert "password_hash" not in data["owner"]

    async def test_list_filters(
        self,
        client: AsyncClient,
        db_session: AsyncSession,
        test_user: User,
        auth_headers: dict[str, str],
    ) -> None:
        project1 = ProjectFactory(owner=test_user)
        ProjectFactory(owner=test_user, is_archived=True)
        ProjectFactory(owner=UserFactory())
        await db_session.commit()

        response = await client.get(
            "/projects",
            params={"my_projects_only": "true", "include_archived": "false"},
            headers=auth_headers,
        )

        assert response.status_code == 200
        assert [p["id"] for p in response.json()] == [project1.id]

    async def test_list_everything(
        self,
        client: AsyncClient,
        db_session: AsyncSession,
        test_user: User,
        auth_headers: dict[str, str],
    ) -> None:
        ProjectFactory.create_batch(2, owner=test_user)
        ProjectFactory(is_archived=True)
        await db_session.commit()

        response = await client.get(
            "/projects", params={"include_archived": "true"}, headers=auth_headers
        )

        assert len(response.json()) == 3


class TestTasks:
    async def test_create_in_project(
        self,
        client: AsyncClient,
        db_session: AsyncSession,
        test_user: User,
        auth_headers: dict[str, str],
    ) -> None:
        project = ProjectFactory(owner=test_user)
        await db_session.commit()

        response = await client.post(
            "/tasks",
            json={
                "title": "New Task",
                "description": "Task description",
                "project_id": project.id,
                "priority": 3,
            },
            headers=auth_headers,
        )

        assert response.status_code == 201
        data = response.json()
        assert data["title"] == "New Task"
        assert data["project"]["id"] == project.id

    async def test_create_needs_a_valid_priority(
        self, client: AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/tasks", json={"title": "T", "project_id": 1, "priority": 6}, headers=auth_headers
        )
        assert response.status_code == 422

    async def test_create_in_a_missing_project(
        self, client: AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/tasks", json={"title": "T", "project_id": 99999}, headers=auth_headers
        )
        assert response.status_code == 404

    async def test_due_dates_are_returned_in_utc(
        self,
        client: AsyncClient,
        db_session: AsyncSession,
        test_user: User,
        auth_headers: dict[str, str],
    ) -> None:
        project = ProjectFactory(owner=test_user)
        await db_session.commit()

        created = await client.post(
            "/tasks",
            json={"title": "T", "project_id": project.id, "due_date": "2030-06-01T12:00:00+02:00"},
            headers=auth_headers,
        )
        listed = await client.get("/tasks", params={"project_id": project.id})

        assert created.json()["due_date"] == "2030-06-01T10:00:00Z"
        assert listed.json()[0]["due_date"] == "2030-06-01T10:00:00Z"

    async def test_list_by_status(
        self, client: AsyncClient, db_session: AsyncSession, test_user: User
    ) -> None:
        project = ProjectFactory(owner=test_user)
        TaskFactory.create_completed(project=project)
        pending = TaskFactory(project=project, is_completed=False)
        overdue = TaskFactory.create_overdue(project=project)
        await db_session.commit()

        pending_response = await client.get(
            "/tasks", params={"project_id": project.id, "status": "pending"}
        )
        overdue_response = await client.get(
            "/tasks", params={"project_id": project.id, "status": "overdue"}
        )

        assert pending_response.status_code == 200
        assert [t["id"] for t in pending_response.json()] == [pending.id]
        assert [t["id"] for t in overdue_response.json()] == [overdue.id]

    async def test_list_with_an_unknown_status(self, client: AsyncClient) -> None:
        assert (await client.get("/tasks", params={"status": "someday"})).status_code == 422

    async def test_bulk_update(
        self,
        client: AsyncClient,
        db_session: AsyncSession,
        test_user: User,
        auth_headers: dict[str, str],
    ) -> None:
        project = ProjectFactory(owner=test_user)
        tasks = TaskFactory.create_batch(5, project=project)
        await db_session.commit()

        response = await client.post(
            "/tasks/bulk-update",
            json={"task_ids": [t.id for t in tasks], "update_data": {"is_completed": True}},
            headers=auth_headers,
        )
        completed = await client.get(
            "/tasks", params={"project_id": project.id, "status": "completed"}
        )

        assert response.status_code == 200
        assert response.json() == {"updated_count": 5}
        assert len(completed.json()) == 5
        assert all(t["completed_at"] for t in completed.json())

    async def test_bulk_update_requires_auth(self, client: AsyncClient) -> None:
        response = await client.post(
            "/tasks/bulk-update", json={"task_ids": [1], "update_data": {"is_completed": True}}
        )
        assert response.status_code in (401, 403)


async def test_health(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_listing_tasks_does_not_query_per_task(
    client: AsyncClient, db_session: AsyncSession, assert_max_queries
) -> None:
    TaskFactory.create_batch(20)
    await db_session.commit()

    # tasks, their projects, the projects' owners, the assignees: one query each
    with assert_max_queries(4):
        response = await client.get("/tasks")

    assert len(response.json()) == 20


async def test_login_as_skips_the_token(
    client: AsyncClient, db_session: AsyncSession, login_as
) -> None:
    ada = UserFactory(email="ada@example.com")
    await db_session.commit()
    login_as(ada)

    response = await client.post("/projects", json={"name": "Analytical Engine"})

    assert response.status_code == 201
    assert response.json()["owner"]["email"] == "ada@example.com"
