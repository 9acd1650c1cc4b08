"""Tables (`User`, `Project`, `Task`, `PasswordResetToken`) and the request/response schemas.

No `from __future__ import annotations` here: SQLModel reads the annotations at class creation.
"""

import enum
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, EmailStr
from sqlalchemy import CheckConstraint, DateTime, Dialect, String, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, Relationship, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# For request fields: what a client sends without an offset is read as UTC.
UTCInput = Annotated[datetime, AfterValidator(as_utc)]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (the one form SQLite, PostgreSQL and MariaDB all keep as given);
    returns aware UTC. Naive values handed in are taken to be UTC already."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            # DATETIME defaults to whole seconds there; keep the microseconds.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class UserRole(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


# Stored as a plain string column: no native ENUM type to create or drop on PostgreSQL.
_role_type = SAEnum(
    UserRole,
    native_enum=False,
    length=20,
    values_callable=lambda roles: [role.value for role in roles],
)


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    OVERDUE = "overdue"


# --- tables -------------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True, index=True)
    name: str = Field(max_length=100)
    password_hash: str = Field(max_length=128)
    role: UserRole = Field(default=UserRole.USER, sa_type=_role_type)  # type: ignore[call-overload]
    is_active: bool = True
    is_verified: bool = False
    failed_login_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN


class Project(SQLModel, table=True):
    __tablename__ = "projects"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    owner_id: int = Field(foreign_key="users.id", index=True)
    is_archived: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Eager ("selectin") because async sessions cannot lazy-load on attribute access.
    owner: User = Relationship(sa_relationship_kwargs={"lazy": "selectin"})


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (CheckConstraint("priority BETWEEN 1 AND 5", name="ck_tasks_priority"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    project_id: int = Field(foreign_key="projects.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    priority: int = 3
    is_completed: bool = False
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    project: Project = Relationship(sa_relationship_kwargs={"lazy": "selectin"})
    assignee: User | None = Relationship(sa_relationship_kwargs={"lazy": "selectin"})


class PasswordResetToken(SQLModel, table=True):
    """One single-use reset link; only the SHA-256 of the token is stored."""

    __tablename__ = "password_reset_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(sa_type=String(64), unique=True)  # type: ignore[call-overload]
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- users --------------------------------------------------------------------------------


class UserCreate(SQLModel):
    # The password rules live in UserService, so that they hold for every caller.
    name: str = Field(min_length=1, max_length=100)
    email: EmailStr = Field(max_length=255)
    password: str = Field(max_length=128)


class UserUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=255)


class UserRead(SQLModel):
    id: int
    email: str
    name: str
    role: UserRole
    is_active: bool
    is_verified: bool
    created_at: datetime


# --- auth ---------------------------------------------------------------------------------


class LoginRequest(SQLModel):
    email: str = Field(max_length=255)
    password: str = Field(max_length=128)


class TokenPair(SQLModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class RefreshRequest(SQLModel):
    refresh_token: str


class PasswordResetRequest(SQLModel):
    email: EmailStr


class PasswordResetConfirm(SQLModel):
    token: str = Field(max_length=128)
    new_password: str = Field(max_length=128)


class Message(SQLModel):
    message: str


# --- projects -----------------------------------------------------------------------------


class ProjectCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class ProjectRead(SQLModel):
    id: int
    name: str
    description: str | None
    is_archived: bool
    created_at: datetime
    owner: UserRead


class ProjectSummary(SQLModel):
    id: int
    name: str


# --- tasks --------------------------------------------------------------------------------


class TaskCreate(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    project_id: int
    assignee_id: int | None = None
    priority: int = Field(default=3, ge=1, le=5)
    due_date: UTCInput | None = None


class TaskUpdate(SQLModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    assignee_id: int | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    is_completed: bool | None = None
    due_date: UTCInput | None = None


class TaskRead(SQLModel):
    id: int
    title: str
    description: str | None
    priority: int
    is_completed: bool
    completed_at: datetime | None
    due_date: datetime | None
    created_at: datetime
    project: ProjectSummary
    assignee: UserRead | None


class BulkTaskUpdate(SQLModel):
    task_ids: list[int] = Field(min_length=1, max_length=500)
    update_data: TaskUpdate


class BulkUpdateResult(SQLModel):
    updated_count: int
