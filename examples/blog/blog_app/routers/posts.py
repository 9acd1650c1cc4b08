"""/api/posts: a paginated feed, and posts only their author may change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from blog_app.models import Post
from blog_app.schemas import PaginatedPosts, PostCreate, PostResponse, PostUpdate
from blog_app.security import CurrentUser, DbSession

router = APIRouter(prefix="/api/posts", tags=["posts"])


async def _get_post(db: DbSession, post_id: int) -> Post:
    post = await db.scalar(
        select(Post).options(selectinload(Post.author)).where(Post.id == post_id)
    )
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Post not found")
    return post


@router.get("", response_model=PaginatedPosts)
async def list_posts(
    db: DbSession,
    skip: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> PaginatedPosts:
    total = await db.scalar(select(func.count()).select_from(Post)) or 0
    # id breaks ties: posts made in one second (or one transaction) share a timestamp.
    result = await db.scalars(
        select(Post)
        .options(selectinload(Post.author))
        .order_by(Post.date_posted.desc(), Post.id.desc())
        .offset(skip)
        .limit(limit)
    )
    posts = list(result)
    return PaginatedPosts(
        posts=[PostResponse.model_validate(post) for post in posts],
        total=total,
        skip=skip,
        limit=limit,
        has_more=skip + len(posts) < total,
    )


@router.get("/{post_id}", response_model=PostResponse)
async def read_post(post_id: int, db: DbSession) -> Post:
    return await _get_post(db, post_id)


@router.post("", response_model=PostResponse, status_code=status.HTTP_201_CREATED)
async def create_post(body: PostCreate, current_user: CurrentUser, db: DbSession) -> Post:
    post = Post(title=body.title, content=body.content, author=current_user)
    db.add(post)
    await db.commit()
    return post


@router.patch("/{post_id}", response_model=PostResponse)
async def update_post(
    post_id: int, body: PostUpdate, current_user: CurrentUser, db: DbSession
) -> Post:
    post = await _get_post(db, post_id)
    if post.user_id != current_user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Not authorized to update this post")
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(post, field, value)
    await db.commit()
    return post


@router.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_post(post_id: int, current_user: CurrentUser, db: DbSession) -> Response:
    post = await _get_post(db, post_id)
    if post.user_id != current_user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Not authorized to delete this post")
    await db.delete(post)
    await db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
