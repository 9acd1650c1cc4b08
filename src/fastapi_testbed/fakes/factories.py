"""Give every SQLAlchemy factory the test's session: polyfactory and factory_boy.

    with FactorySessions(session):          # a Session, or an AsyncSession plus a runner
        user = UserFactory.create_sync()    # polyfactory, added and committed in `session`
        post = PostFactory()                # factory_boy, added and flushed in `session`

Factories defined when the block starts are bound, the user's own settings restored after.
With an AsyncSession, the sync APIs (`create_sync()`, factory_boy's `Factory()`) need `run`,
a function that runs a coroutine to completion from sync code; the async API of polyfactory
(`await create_async()`) works over a sync Session as well.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

__all__ = ["FactorySessions", "bound_factories"]

Runner = Callable[[Awaitable[Any]], Any]
_MISSING = object()


def _subclasses(base: Any) -> Iterator[Any]:
    sub: Any
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _is_async(session: Any) -> bool:
    return hasattr(session, "sync_session")  # AsyncSession and async_scoped_session


class SyncFacade:
    """The sync methods factories call, carried out on an AsyncSession through `run`."""

    def __init__(self, session: Any, run: Runner) -> None:
        self._session, self._run = session, run

    def add(self, instance: Any) -> None:
        self._session.add(instance)

    def add_all(self, instances: Any) -> None:
        self._session.add_all(instances)

    def flush(self) -> None:
        self._run(self._session.flush())

    def commit(self) -> None:
        self._run(self._session.commit())

    def refresh(self, instance: Any) -> None:
        self._run(self._session.refresh(instance))

    def rollback(self) -> None:
        self._run(self._session.rollback())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session.sync_session, name)


class AsyncFacade:
    """The awaitable methods polyfactory's async API calls, carried out on a sync Session."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def add(self, instance: Any) -> None:
        self._session.add(instance)

    def add_all(self, instances: Any) -> None:
        self._session.add_all(instances)

    async def flush(self) -> None:
        self._session.flush()

    async def commit(self) -> None:
        self._session.commit()

    async def refresh(self, instance: Any) -> None:
        self._session.refresh(instance)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def bound_factories() -> tuple[list[Any], list[Any]]:
    """The polyfactory and factory_boy SQLAlchemy factories defined so far (none imported here)."""
    poly: list[Any] = []
    boy: list[Any] = []
    poly_module = sys.modules.get("polyfactory.factories.sqlalchemy_factory")
    if poly_module is not None:
        base = poly_module.SQLAlchemyFactory
        poly = [base, *(sub for sub in _subclasses(base) if "__session__" in vars(sub)
                        or "__async_session__" in vars(sub))]  # fmt: skip
    boy_module = sys.modules.get("factory.alchemy")
    if boy_module is not None:
        boy = [
            sub for sub in _subclasses(boy_module.SQLAlchemyModelFactory) if not sub._meta.abstract
        ]
    return poly, boy


class FactorySessions:
    """Bind factories to `session` inside the block; see the module docstring."""

    def __init__(self, session: Any, run: Runner | None = None) -> None:
        self.session = session
        self.run = run
        self._restore: list[Callable[[], None]] = []

    def _sync_session(self) -> Any:
        if not _is_async(self.session):
            return self.session
        if self.run is None:
            return None
        return SyncFacade(self.session, self.run)

    def _async_session(self) -> Any:
        return self.session if _is_async(self.session) else AsyncFacade(self.session)

    def _set(self, owner: Any, name: str, value: Any) -> None:
        previous = vars(owner).get(name, _MISSING)
        setattr(owner, name, value)
        if previous is _MISSING:
            self._restore.append(lambda: delattr(owner, name))
        else:
            self._restore.append(lambda: setattr(owner, name, previous))

    def __enter__(self) -> FactorySessions:
        sync_session, async_session = self._sync_session(), self._async_session()
        poly, boy = bound_factories()
        for factory in poly:
            self._set(factory, "__session__", sync_session)
            self._set(factory, "__async_session__", async_session)
        for factory in boy:
            meta = factory._meta
            self._set(meta, "sqlalchemy_session", sync_session)
            self._set(meta, "sqlalchemy_session_factory", None)
            if meta.sqlalchemy_session_persistence is None:  # visible to the app: flush at least
                self._set(meta, "sqlalchemy_session_persistence", "flush")
        return self

    def __exit__(self, *exc_info: object) -> None:
        while self._restore:
            self._restore.pop()()
