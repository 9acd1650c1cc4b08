from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tasks_app.deps import CurrentUser, UserServiceDep
from tasks_app.models import User, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate, users: UserServiceDep) -> User:
    return await users.create_user(data)


@router.get("", response_model=list[UserRead])
async def list_users(
    response: Response,
    users: UserServiceDep,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> list[User]:
    """One page of users; the `X-Total-Count` header holds the number of matches."""
    items, total = await users.list_users(skip=skip, limit=limit, search=search)
    response.headers["X-Total-Count"] = str(total)
    return items


@router.get("/me", response_model=UserRead)
async def read_me(current_user: CurrentUser) -> User:
    return current_user


@router.get("/{user_id}", response_model=UserRead)
async def read_user(user_id: int, users: UserServiceDep) -> User:
    return await users.get_user(user_id)


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: int, data: UserUpdate, users: UserServiceDep, current_user: CurrentUser
) -> User:
    assert current_user.id is not None
    return await users.update_user(user_id, data, current_user_id=current_user.id)
