"""Count the SQL statements the app and the test run; find N+1 queries.

    with assert_num_queries(2):            # fails listing the statements when it is not 2
        client.get("/users")
    with assert_max_queries(5) as queries:
        client.get("/users?include=posts")
    print(queries.statements)

Statements of every SQLAlchemy engine count, except transaction control (BEGIN, COMMIT,
ROLLBACK, SAVEPOINT...): the test isolation runs those, not the code under test.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = [
    "N_PLUS_ONE",
    "TOO_MANY_QUERIES",
    "WRONG_QUERY_COUNT",
    "NPlusOneDetector",
    "QueryCounter",
    "assert_max_queries",
    "assert_num_queries",
    "statement_shape",
]

WRONG_QUERY_COUNT = "Expected {expected} SQL statement(s), {got} ran:\n{statements}"
TOO_MANY_QUERIES = "Expected at most {expected} SQL statement(s), {got} ran:\n{statements}"
N_PLUS_ONE = (
    "N+1 queries: during {request} this statement ran {count} times "
    "(at most {max_repeats} allowed):\n    {shape}\n"
    "Load the related rows in one query (selectinload, joinedload), or raise the limit for "
    "this test: @pytest.mark.forbid_n_plus_one(max_repeats=N)."
)

_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|START\s+TRANSACTION|END)\b",
    re.IGNORECASE,
)
_current_request: ContextVar[str | None] = ContextVar("testbed_current_request", default=None)


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any
    request: str | None

    def __str__(self) -> str:
        sql = " ".join(self.sql.split())
        params = f"  -- {self.parameters!r}" if self.parameters not in (None, (), {}, []) else ""
        return f"{sql}{params}"


def statement_shape(sql: str) -> str:
    """The statement with literals and placeholders as `?` and IN lists as `(?...)`."""
    shape = " ".join(sql.split())
    shape = re.sub(r"'(?:[^']|'')*'", "?", shape)
    shape = re.sub(r"\$\d+|%\(\w+\)s|%s|(?<![:\w]):\w+|\b\d+(?:\.\d+)?\b", "?", shape)
    shape = re.sub(r"\?::\w+(?:\[\])?", "?", shape)  # asyncpg's casts: $1::INTEGER
    return re.sub(r"\(\s*\?(?:\s*,\s*\?)+\s*\)", "(?...)", shape)


class QueryCounter:
    """Records the statements run by any engine while the block runs."""

    def __init__(self, target: Any = Engine) -> None:
        self.target = target  # an Engine, or the Engine class for all of them
        self.statements: list[Statement] = []

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not _TRANSACTION_CONTROL.match(statement):
            self.statements.append(Statement(statement, parameters, _current_request.get()))

    def __len__(self) -> int:
        return len(self.statements)

    def listing(self) -> str:
        lines = [f"  {i}. {statement}" for i, statement in enumerate(self.statements, 1)]
        return "\n".join(lines) or "  (none)"

    def __enter__(self) -> QueryCounter:
        event.listen(self.target, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(self.target, "before_cursor_execute", self._record)


@contextmanager
def assert_num_queries(expected: int, *, target: Any = Engine) -> Iterator[QueryCounter]:
    """Fail unless exactly `expected` SQL statements run in the block."""
    with QueryCounter(target) as counter:
        yield counter
    if len(counter) != expected:
        raise AssertionError(
            WRONG_QUERY_COUNT.format(
                expected=expected, got=len(counter), statements=counter.listing()
            )
        )


@contextmanager
def assert_max_queries(expected: int, *, target: Any = Engine) -> Iterator[QueryCounter]:
    """Fail if more than `expected` SQL statements run in the block."""
    with QueryCounter(target) as counter:
        yield counter
    if len(counter) > expected:
        raise AssertionError(
            TOO_MANY_QUERIES.format(
                expected=expected, got=len(counter), statements=counter.listing()
            )
        )


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class NPlusOneDetector:
    """Counts statement shapes per HTTP request; `report()` names one run too often.

    `track_requests(app)` marks the requests of a Starlette/FastAPI app; without it the
    whole block counts as one request.
    """

    def __init__(self, max_repeats: int = 2, target: Any = Engine) -> None:
        self.max_repeats = max_repeats
        self.counter = QueryCounter(target)
        self._numbers = itertools.count(1)
        self._tracking = False

    @contextmanager
    def track_requests(self, app: Any) -> Iterator[None]:
        if not hasattr(app, "build_middleware_stack"):
            yield  # not a Starlette app: the block is one request
            return
        previous = app.middleware_stack
        inner: ASGIApp = previous or app.build_middleware_stack()

        async def marked(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await inner(scope, receive, send)
            name = f"request #{next(self._numbers)} {scope['method']} {scope['path']}"
            token = _current_request.set(name)
            try:
                await inner(scope, receive, send)
            finally:
                _current_request.reset(token)

        app.middleware_stack = marked
        self._tracking = True  # statements of the test body itself are not counted
        try:
            yield
        finally:
            app.middleware_stack = previous

    def report(self) -> str | None:
        """The failure message for the most repeated shape over the limit, or None."""
        shapes = Counter(
            (statement.request or "the test", statement_shape(statement.sql))
            for statement in self.counter.statements
            if statement.request or not self._tracking
        )
        worst = max(shapes.items(), key=lambda item: item[1], default=None)
        if worst is None or worst[1] <= self.max_repeats:
            return None
        (request, shape), count = worst
        return N_PLUS_ONE.format(
            request=request, count=count, max_repeats=self.max_repeats, shape=shape
        )

    def __enter__(self) -> NPlusOneDetector:
        self.counter.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.counter.__exit__(*exc_info)
