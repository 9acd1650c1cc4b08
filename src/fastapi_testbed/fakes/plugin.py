"""The fakes' pytest plugin: options, markers, hooks and fixtures. The work lives in the modules
beside it (mail, s3, http, network, overrides, queries, factories, services)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from fastapi_testbed.config import SETTINGS_KEY, Settings
from fastapi_testbed.fakes.extras import MissingExtraError

__all__ = [
    "assert_max_queries",
    "assert_num_queries",
    "http_mock",
    "login_as",
    "mail_outbox",
    "override",
    "s3",
]

if TYPE_CHECKING:  # each fake's module is imported when its hook or fixture runs
    from fastapi_testbed.environment import Environment
    from fastapi_testbed.fakes.services import FakeServices

SERVICES_KEY = pytest.StashKey["FakeServices"]()
CALL_FAILED_KEY = pytest.StashKey[bool]()
NETWORK_KEY = pytest.StashKey[Any]()
AWS_KEY = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("testbed").addoption(
        "--testbed-n-plus-one",
        type=int,
        dest="testbed_n_plus_one",
        default=None,
        metavar="K",
        help="fail a test when one SQL statement shape runs more than K times in one request "
        "([tool.testbed] n_plus_one_threshold)",
    )


def pytest_testbed_environment(
    config: pytest.Config, settings: Settings, environment: Environment
) -> None:
    # Called by the core once the test database is exported and before any conftest is
    # imported: the app may read the SMTP and S3 variables at import time. Without a
    # [tool.testbed] table the core never calls it, and the fakes stay dormant.
    from fastapi_testbed.fakes.services import FakeServices

    early_config = config
    try:
        services = FakeServices(settings.table, settings.root, settings.pyproject).start()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
    early_config.stash[SERVICES_KEY] = services


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "allow_network: let this test make real network requests (no stray-request check)",
        "forbid_n_plus_one(max_repeats=2): fail when one SQL statement shape runs more than "
        "max_repeats times in a single request",
        "allow_n_plus_one: skip the N+1 check turned on by --testbed-n-plus-one",
    ):
        config.addinivalue_line("markers", line)


def pytest_report_header(config: pytest.Config) -> list[str]:
    services = config.stash.get(SERVICES_KEY, None)
    if services is None:
        return []
    limit = config.getoption("testbed_n_plus_one") or services.n_plus_one_threshold
    n_plus_one = f"on, at most {limit} repeats" if limit else "off (@pytest.mark.forbid_n_plus_one)"
    settings = config.stash.get(SETTINGS_KEY, None)
    network = (
        'real requests allowed ([tool.testbed] network = "allow")'
        if settings is not None and settings.network == "allow"
        else "real requests fail the test (@pytest.mark.allow_network, allowed_hosts)"
    )
    lines = [*services.describe(), f"network: {network}", f"N+1 check: {n_plus_one}"]
    return [f"testbed fakes: {line}" for line in lines]


def pytest_unconfigure(config: pytest.Config) -> None:
    services = config.stash.get(SERVICES_KEY, None)
    if services is not None:
        services.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        # A failed test has said what went wrong: teardown checks then stay quiet.
        item.stash[CALL_FAILED_KEY] = report.failed
    return report


def _services(request: pytest.FixtureRequest) -> FakeServices | None:
    return request.config.stash.get(SERVICES_KEY, None)


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def _call_failed(request: pytest.FixtureRequest) -> bool:
    return bool(request.node.stash.get(CALL_FAILED_KEY, False))


# --- what every test runs under -----------------------------------------------------------------
@pytest.fixture(autouse=True)
def _testbed_fakes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Internal: the fakes every test runs under (mail, S3, the network guard, the N+1 check,
    factories), in one fixture: pytest's setup of each function fixture costs about as much as
    a statement on a local server, and every test, even an empty one, pays for autouse ones."""
    services = _services(request)
    if services is None:
        yield
        return
    with ExitStack() as stack:
        for part in (_mail_send_function, _aws, _network, _n_plus_one, _factories):
            stack.enter_context(part(request, services))
        yield


# --- mail ---------------------------------------------------------------------------------------
@contextmanager
def _mail_send_function(request: pytest.FixtureRequest, services: FakeServices) -> Iterator[None]:
    """[tool.testbed] mail_send_function is replaced in every test, so no mail leaves."""
    if not services.table.get("mail_send_function"):
        yield
        return
    if "testbed" in request.fixturenames:
        _ = request.getfixturevalue("testbed").app  # import the app first: its modules get patched
    with services.send_function_replaced():
        yield


@pytest.fixture
def mail_outbox(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The mails the app sends during this test, parsed (`.to`, `.subject`, `.text`, `.links`).

    Example::

        async def test_reset(client, mail_outbox):
            await client.post("/password-reset", json={"email": "ada@example.com"})
            assert mail_outbox[0].to == ["ada@example.com"]
            token = mail_outbox[0].link("/reset").rsplit("token=", 1)[1]
    """
    from fastapi_testbed.fakes.services import MAIL_NOT_CONFIGURED

    services = _services(request)
    if services is None or not services.mail_configured:
        _fail(MAIL_NOT_CONFIGURED)
    assert services is not None
    if services.smtp_error is not None:
        _fail(str(services.smtp_error))
    with services.sink.capture() as outbox:
        yield outbox


# --- S3 -----------------------------------------------------------------------------------------
@contextmanager
def _aws(request: pytest.FixtureRequest, services: FakeServices) -> Iterator[None]:
    """With S3 configured, every test runs against an empty moto (nothing reaches AWS)."""
    if services.s3 is None:
        yield
        return
    try:
        patched = services.s3.patched()
        patched.__enter__()
    except MissingExtraError:
        yield  # the s3 fixture says which extra to install
        return
    request.node.stash[AWS_KEY] = services.s3
    try:
        yield
    finally:
        del request.node.stash[AWS_KEY]
        patched.__exit__(None, None, None)


@pytest.fixture
def s3(request: pytest.FixtureRequest, _testbed_fakes: None) -> Iterator[Any]:
    """A boto3 S3 client on moto, with the [tool.testbed] s3_buckets created empty.

    Example::

        def test_upload(sync_client, s3):
            sync_client.post("/avatar", files={"file": ("a.png", b"...", "image/png")})
            assert s3.list_objects_v2(Bucket="avatars")["KeyCount"] == 1
    """
    from fastapi_testbed.fakes.s3 import FakeS3

    aws = request.node.stash.get(AWS_KEY, None)
    with ExitStack() as stack:
        try:
            if aws is None:
                client = stack.enter_context(FakeS3().mock())
            else:
                aws.create_buckets()
                client = aws.client()
        except MissingExtraError as error:
            _fail(str(error))
        yield client


# --- outbound HTTP ------------------------------------------------------------------------------
def _allowed_hosts(services: FakeServices, request: pytest.FixtureRequest) -> list[str]:
    settings = request.config.stash[SETTINGS_KEY]
    hosts = services.allowed_hosts
    url = os.environ.get(settings.database_url_env)
    if url:
        hosts.append(_host_of(url))
    return hosts


@functools.lru_cache(maxsize=8)
def _host_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).host or ""


@contextmanager
def _network(request: pytest.FixtureRequest, services: FakeServices) -> Iterator[None]:
    """A request leaving the machine fails the test, and so does an unused stub."""
    from fastapi_testbed.fakes.network import NetworkGuard

    allowed = request.node.get_closest_marker("allow_network") is not None
    settings = request.config.stash.get(SETTINGS_KEY, None)
    if allowed or (settings is not None and settings.network == "allow"):
        yield
        return
    with NetworkGuard(_allowed_hosts(services, request)) as guard:
        # respx only where the test stubs httpx; elsewhere the cheap hook names stray URLs
        router = _start_router(strict=True) if "http_mock" in request.fixturenames else None
        request.node.stash[NETWORK_KEY] = router
        hook = services.httpx_hook
        if hook is not None:  # the router answers requests once it exists; else the guard
            hook.install()  # clients the app imported since the last test
            hook.guard, hook.router = (guard, None) if router is None else (None, router)
        try:
            yield
        finally:
            del request.node.stash[NETWORK_KEY]  # pytest keeps every item to the session's end
            if hook is not None:
                hook.guard = hook.router = None
            if router is not None:
                router.stop()
    if _call_failed(request):
        return
    strays = [*(router.strays if router is not None else []), *guard.strays]
    if strays:
        _fail(_strays_message(strays))
    if router is not None and (unused := router.unused_stubs_message()):
        _fail(unused)


def _start_router(strict: bool) -> Any:
    try:
        from fastapi_testbed.fakes.http import HTTPMock
    except MissingExtraError:
        return None
    router = HTTPMock(allow_unmatched=not strict)
    router.start()
    return router


def _strays_message(strays: list[str]) -> str:
    from fastapi_testbed.fakes.network import STRAYS

    return STRAYS.format(count=len(strays), requests="\n".join(f"  {s}" for s in strays))


@pytest.fixture
def http_mock(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A respx router for the app's outbound httpx requests; unmatched ones fail the test.

    Example::

        async def test_weather(client, http_mock):
            http_mock.get("https://api.weather.example/today").respond(json={"sky": "blue"})
            http_mock.post("https://metrics.example/hit", optional=True)  # may go uncalled
            assert (await client.get("/forecast")).json() == {"sky": "blue"}
    """
    try:
        from fastapi_testbed.fakes.http import HTTPMock
    except MissingExtraError as error:
        _fail(str(error))
    router = request.node.stash.get(NETWORK_KEY, None)
    if router is not None:
        yield router
        return
    # Not known when the guard started (getfixturevalue), or no guard at all (allow_network, no
    # [tool.testbed]): with a guard, this router takes over from the httpx hook, strictly.
    services = _services(request)
    hook = services.httpx_hook if services is not None else None
    guarded = hook is not None and hook.guard is not None
    if hook is not None:
        hook.guard = None
    router = HTTPMock(allow_unmatched=not guarded)
    router.start()
    if hook is not None:
        hook.router = router
    try:
        yield router
    finally:
        if hook is not None:
            hook.router = None
        router.stop()
    if _call_failed(request):
        return
    if router.strays:
        _fail(_strays_message(router.strays))
    if unused := router.unused_stubs_message():
        _fail(unused)


# --- dependency overrides -----------------------------------------------------------------------
@pytest.fixture
def _testbed_overrides(testbed: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Internal: the overrides of one test, restored exactly at its end."""
    from fastapi_testbed.fakes.overrides import DependencyOverrides
    from fastapi_testbed.importing import import_string

    services, settings = _services(request), testbed.settings
    path = services.current_user if services is not None else None
    current_user = (
        import_string(path, key="current_user", where=settings.pyproject, root=settings.root)
        if path
        else None
    )
    with DependencyOverrides(testbed.app, current_user) as overrides:
        yield overrides


@pytest.fixture
def override(_testbed_overrides: Any) -> Callable[[Any, Any], Any]:
    """`override(dependency, replacement)`: for this test only (a value is wrapped in a function).

    Example::

        def test_flag(sync_client, override):
            override(get_settings, Settings(feature_x=True))
            assert sync_client.get("/x").status_code == 200
    """
    return _testbed_overrides.override  # type: ignore[no-any-return]


@pytest.fixture
def login_as(_testbed_overrides: Any) -> Callable[..., Any]:
    """`login_as(user)`: requests are made as `user` ([tool.testbed] current_user).

    Example::

        async def test_me(client, login_as, db_session):
            login_as(await make_user(db_session, email="ada@example.com"))
            assert (await client.get("/me")).json()["email"] == "ada@example.com"
    """
    return _testbed_overrides.login_as  # type: ignore[no-any-return]


# --- SQL statements -----------------------------------------------------------------------------
@pytest.fixture
def assert_num_queries() -> Callable[..., Any]:
    """`with assert_num_queries(n):` fails, listing the statements, unless exactly n ran."""
    from fastapi_testbed.fakes.queries import assert_num_queries

    return assert_num_queries


@pytest.fixture
def assert_max_queries() -> Callable[..., Any]:
    """`with assert_max_queries(n):` fails, listing the statements, if more than n ran."""
    from fastapi_testbed.fakes.queries import assert_max_queries

    return assert_max_queries


def _n_plus_one_limit(request: pytest.FixtureRequest, services: FakeServices) -> int | None:
    if request.node.get_closest_marker("allow_n_plus_one") is not None:
        return None
    marker = request.node.get_closest_marker("forbid_n_plus_one")
    if marker is not None:
        return int(marker.kwargs.get("max_repeats", marker.args[0] if marker.args else 2))
    option = request.config.getoption("testbed_n_plus_one")
    return option if option is not None else services.n_plus_one_threshold


@contextmanager
def _n_plus_one(request: pytest.FixtureRequest, services: FakeServices) -> Iterator[None]:
    """The opt-in N+1 check (marker forbid_n_plus_one, or --testbed-n-plus-one)."""
    limit = _n_plus_one_limit(request, services)
    if limit is None or "testbed" not in request.fixturenames:
        yield
        return
    from fastapi_testbed.fakes.queries import NPlusOneDetector

    app = request.getfixturevalue("testbed").app
    with NPlusOneDetector(limit) as detector, detector.track_requests(app):
        yield
    if not _call_failed(request) and (message := detector.report()):
        _fail(message)


# --- factories ----------------------------------------------------------------------------------
@contextmanager
def _factories(request: pytest.FixtureRequest, services: FakeServices) -> Iterator[None]:
    """polyfactory and factory_boy SQLAlchemy factories use the test's db_session."""
    from fastapi_testbed.fakes.factories import FactorySessions, bound_factories

    if "testbed" not in request.fixturenames:
        yield
        return
    poly, boy = bound_factories()
    if not (poly or boy):
        yield
        return
    testbed = request.getfixturevalue("testbed")
    with FactorySessions(request.getfixturevalue("db_session"), run=testbed.run):
        yield
