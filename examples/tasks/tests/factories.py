"""factory_boy factories for the three tables.

The plugin binds them to the test's `db_session`: a factory call adds and flushes the row
(and the owner, project and assignee it made on the way), so it has an id and the app sees it.

    user = UserFactory()                    # password "testpass123"
    admin = UserFactory(role=UserRole.ADMIN, password="adminpass123")
    task = TaskFactory.create_overdue(project=project)
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from tasks_app.models import Project, Task, User, UserRole, utcnow
from tasks_app.security import hash_password

DEFAULT_PASSWORD = "testpass123"


@cache
def password_hash_of(password: str) -> str:
    # One bcrypt run per distinct password, however many users a test makes.
    return hash_password(password)


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = User

    class Params:
        password = DEFAULT_PASSWORD

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password_hash = factory.LazyAttribute(lambda user: password_hash_of(user.password))
    role = UserRole.USER
    is_active = True
    is_verified = True
    created_at = factory.LazyFunction(utcnow)
    updated_at = factory.LazyFunction(utcnow)


class ProjectFactory(SQLAlchemyModelFactory):
    class Meta:
        model = Project

    name = factory.Faker("catch_phrase")
    description = factory.Faker("paragraph")
    owner = factory.SubFactory(UserFactory)
    is_archived = False
    created_at = factory.LazyFunction(utcnow)


class TaskFactory(SQLAlchemyModelFactory):
    class Meta:
        model = Task

    title = factory.Faker("sentence", nb_words=4)
    description = factory.Faker("text", max_nb_chars=200)
    project = factory.SubFactory(ProjectFactory)
    assignee = factory.SubFactory(UserFactory)
    priority = factory.Faker("random_int", min=1, max=5)
    is_completed = False
    due_date = factory.LazyFunction(lambda: utcnow() + timedelta(days=7))
    created_at = factory.LazyFunction(utcnow)

    @classmethod
    def create_overdue(cls, **kwargs: Any) -> Task:
        """An open task whose due date passed yesterday."""
        kwargs.setdefault("due_date", utcnow() - timedelta(days=1))
        return cls.create(is_completed=False, **kwargs)

    @classmethod
    def create_completed(cls, **kwargs: Any) -> Task:
        """A task completed just now."""
        return cls.create(is_completed=True, completed_at=utcnow(), **kwargs)
