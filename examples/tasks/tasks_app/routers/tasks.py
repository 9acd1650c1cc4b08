from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tasks_app.deps import CurrentUser, TaskServiceDep
from tasks_app.models import (
    BulkTaskUpdate,
    BulkUpdateResult,
    Task,
    TaskCreate,
    TaskRead,
    TaskStatus,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.post("", response_model=TaskRead, status_code=status.HTTP_201_CREATED)
async def create_task(data: TaskCreate, tasks: TaskServiceDep, current_user: CurrentUser) -> Task:
    return await tasks.create_task(data, current_user)


@router.get("", response_model=list[TaskRead])
async def list_tasks(
    tasks: TaskServiceDep,
    project_id: int | None = None,
    assignee_id: int | None = None,
    status: TaskStatus | None = None,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[Task]:
    return await tasks.list_tasks(
        project_id=project_id, assignee_id=assignee_id, status=status, skip=skip, limit=limit
    )


@router.post("/bulk-update")
async def bulk_update_tasks(
    data: BulkTaskUpdate, tasks: TaskServiceDep, current_user: CurrentUser
) -> BulkUpdateResult:
    count = await tasks.bulk_update(data.task_ids, data.update_data, current_user)
    return BulkUpdateResult(updated_count=count)
