"""The one exception the plugin raises for bad input, and the texts it carries.

Messages say what was expected, what was found and which setting, option or marker to change.
They are constants so the tests can assert them verbatim.
"""

from __future__ import annotations

__all__ = ["TestbedError"]


def first_line(exc: BaseException) -> str:
    """The driver's error behind ``exc`` (SQLAlchemy's wrapper unwrapped), as one line."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


class TestbedError(Exception):
    """Bad configuration or a refused database operation; the message says how to fix it."""

    __test__ = False  # not a test class, whatever pytest's collection thinks of the name


NO_CONFIG = (
    "fastapi-testbed: no [tool.testbed] table was found in {searched}.\n"
    "Add one to your project's pyproject.toml, for example:\n\n"
    "    [tool.testbed]\n"
    '    app = "myapp.main:app"\n'
    '    metadata = "myapp.models:Base.metadata"\n'
    '    sessionmakers = ["myapp.db:SessionLocal"]\n'
)

BAD_TABLE_VALUE = (
    "fastapi-testbed: [tool.testbed] {key} in {path} must be {expected}, found {found!r}."
)

UNKNOWN_KEYS = (
    "fastapi-testbed: unknown key(s) {keys} in [tool.testbed] of {path}; known keys: {known}."
)

NEEDS_APP = (
    "fastapi-testbed: the fixture needs the ASGI app, but [tool.testbed] in {path} has no `app`.\n"
    'Add app = "myapp.main:app" (or "myapp.main:create_app()" for a factory).'
)

IMPORT_FAILED = (
    "fastapi-testbed: [tool.testbed] {key} = {value!r}: could not import module {module!r}: "
    "{error}.\nCheck the dotted path (module:attribute) in {path}; "
    "the folder {root} is on sys.path."
)

ATTRIBUTE_MISSING = (
    "fastapi-testbed: [tool.testbed] {key} = {value!r}: module {module!r} has no attribute "
    "{attribute!r}.\nCheck the name after the colon in {path}."
)

BAD_PATH_FORMAT = (
    "fastapi-testbed: [tool.testbed] {key} = {value!r} is not an import path; "
    'expected "package.module:attribute" (or "package.module:factory()" for app).'
)

NOT_A_SESSIONMAKER = (
    "fastapi-testbed: [tool.testbed] sessionmakers entry {value!r} is a {found}, "
    "expected a sqlalchemy.orm.sessionmaker or sqlalchemy.ext.asyncio.async_sessionmaker.\n"
    "For an app that builds sessions inside a dependency, use dependency = "
    '"myapp.db:get_db" instead.'
)

NOT_METADATA = (
    "fastapi-testbed: [tool.testbed] metadata = {value!r} is a {found}, expected a "
    "sqlalchemy.MetaData (usually Base.metadata).\nPoint metadata at it in {path}."
)

NO_SCHEMA = (
    "fastapi-testbed: [tool.testbed] names neither metadata nor alembic_ini, so the test database "
    'would have no tables.\nSet metadata = "myapp.models:Base.metadata" (create_all) or '
    'alembic_ini = "alembic.ini" (alembic upgrade head) in {path}.'
)

BOTH_SCHEMAS = (
    "fastapi-testbed: [tool.testbed] in {path} sets both metadata and alembic_ini; "
    "choose one way to build the schema."
)

UNSUPPORTED_BACKEND = (
    "fastapi-testbed: the database URL {url} (from {source}) uses the {backend!r} backend; "
    "supported: postgresql, mysql, mariadb, sqlite.\nChange {setting}."
)

MISSING_DRIVER = (
    "fastapi-testbed: the test database URL {url} (from {source}) needs the {driver!r} driver, "
    "which is not installed.\nInstall it (pip install {package}) or name another driver in the "
    "URL (for example {example}) via {setting}."
)

NO_DRIVER = (
    "fastapi-testbed: no {flavour} driver for {backend} is installed (tried {tried}).\n"
    "Install one (pip install {package}) or name the driver in {setting}."
)

UNSAFE_NAME = (
    "fastapi-testbed: refusing to {action} database {name!r} at {url}: its name does not start "
    "with 'test_', so it is not a test database.\nThe plugin derives test_<name> from the URL's "
    "database; check {setting}."
)

APP_DATABASE = (
    "fastapi-testbed: refusing to {action} {name!r}: it is the database the app uses outside "
    "tests ({env}={app_url}).\nPoint {setting} at another database name."
)

UNREACHABLE = (
    "fastapi-testbed: could not connect to the database server at {url} (from {source}):\n"
    "    {error}\nStart the server, or change --testbed-db-url / TESTBED_DATABASE_URL / "
    "[tool.testbed] database_url (--testbed-db-url sqlite:// tries the embedded default)."
)

AUTH_FAILED = (
    "fastapi-testbed: the database server at {url} (from {source}) refused the login:\n"
    "    {error}\nCheck the user name and password in {setting}: the user must exist and "
    "may create databases."
)

UNOWNED_DATABASE = (
    "fastapi-testbed: a database named {name!r} already exists at {url}, and fastapi-testbed did "
    "not create it (it carries no marker of the plugin), so it was left untouched.\nDrop or "
    "rename it yourself, name another database in {setting}, or run once with --create-db to "
    "let the plugin take it over (its tables and rows will be deleted)."
)

NAME_TAKEN = (
    "fastapi-testbed: the test database {url} was named without being claimed (a --collect-only "
    "run), and another run holds it now.\nRun the tests without --collect-only."
)

NO_FREE_NAME = (
    "fastapi-testbed: {count} test databases named {name}, {name}_2 ... are all held by other "
    "runs at {url}.\nEnd those runs, or name another database in {setting}."
)

SERVER_REFUSED = (
    "fastapi-testbed: the database server at {url} refused `{statement}`:\n    {error}\n"
    "Check that the user in {setting} may create and drop databases."
)

SCHEMA_FAILED = (
    "fastapi-testbed: building the schema of {url} with {how} failed:\n    {error}\n"
    "Fix the {setting} setting or the migration it runs."
)

CONCURRENT_USE = (
    "fastapi-testbed: the test's single database connection was used concurrently: savepoint "
    "{name!r} was closed while {inner!r}, opened later, was still open (two sessions interleaved, "
    "e.g. concurrent requests).\nUnder the default isolation every session shares one "
    'transaction; mark the test @pytest.mark.testbed(isolation="truncate") to give each session '
    "its own connection and real commits."
)

BAD_MARKER = (
    "fastapi-testbed: @pytest.mark.testbed got {found}; expected "
    'isolation="transaction" (the default) or isolation="truncate".'
)

SYNC_SESSION_IN_SYNC_TEST = (
    "fastapi-testbed: {what} is an AsyncSession (the app is async) but the test is a plain def "
    "function.\nMake the test `async def` (with @pytest.mark.anyio or @pytest.mark.asyncio), or "
    "use testbed.run(coroutine) to await from sync code."
)

FOREIGN_DATABASE = (
    "fastapi-testbed: refusing a connection to {name!r} at {url}: it is not a test database, and "
    "the engine was created before the plugin could point it at one (before pytest loaded the "
    "plugin, or with a saved reference to the original create_engine).\nCreate the engine when "
    "the app is imported (a conftest or test module), or point it at a test database through "
    "[tool.testbed] env."
)

MISSING_TABLES = (
    "fastapi-testbed: after {how}, the test database {url} lacks {tables}, which the app's "
    "metadata declares (a model changed without a migration?).\nAdd a migration for them, or "
    "fix the [tool.testbed] metadata / alembic_ini setting."
)

EMPTY_METADATA = (
    "fastapi-testbed: [tool.testbed] metadata = {value!r} holds no tables: the module that "
    "defines the models was never imported.\nPoint metadata at a module that imports every "
    "model (for example myapp.models:Base.metadata), in {path}."
)

BAD_URL = (
    "fastapi-testbed: {url!r} (from {source}) is not a database URL; expected something like "
    "postgresql://user@host:5432/ or sqlite://.\nChange {setting}."
)

BAD_ENV_PLACEHOLDER = (
    "fastapi-testbed: [tool.testbed] env.{name} = {value!r}: {error} is not a placeholder the "
    "plugin fills; known: {known} (write {{{{ and }}}} for literal braces)."
)

DDL_IN_TEST = (
    "fastapi-testbed: `{statement}` inside a test on MariaDB/MySQL would commit the test's "
    "transaction (the server commits around DDL), and with it every row the test was to roll "
    "back.\nBuild the schema with [tool.testbed] metadata / alembic_ini, or mark the test "
    '@pytest.mark.testbed(isolation="truncate").'
)

NESTED_BUILD = (
    "fastapi-testbed: while building the test database {building}, a connection went to "
    "{other}, another test database: Alembic's env.py takes its URL from elsewhere than the "
    "database being built.\nName the app's main engine with [tool.testbed] engine = "
    '"myapp.db:engine" (or "myapp.db:get_engine()" for a factory), or let env.py use '
    "config.get_main_option('sqlalchemy.url') when it is set."
)

RAW_CONNECTION = (
    "fastapi-testbed: refusing a raw {driver} connection to {name!r}: it is not a test database, "
    "and a connection the app opens with its driver directly goes around the plugin's engines.\n"
    "Connect through a SQLAlchemy engine (it is pointed at the test database), or read the "
    "database name from [tool.testbed] env (for example {{test_database}})."
)

# --- what real suites need beyond one test (issue 14) ---------------------------------------------
SETTINGS_NOT_CONFIGURED = (
    "fastapi-testbed: the settings fixture needs the app's settings object, and [tool.testbed] in "
    '{path} names none.\nAdd settings = "myapp.config:get_settings" (the function that returns '
    'it, lru_cached or not) or settings = "myapp.config:settings" (the object itself).'
)

UNKNOWN_SETTING = (
    "fastapi-testbed: the app's settings ({kind}, from [tool.testbed] settings = {path!r}) have "
    "no field {name!r}; its fields: {fields}."
)

DB_ACCESS_NOT_ALLOWED = (
    "fastapi-testbed: {test} reached the test database {url} without asking for it, and "
    '[tool.testbed] db_access = "explicit" in {path} refuses that.\nRequest the db_session '
    "fixture (or db_connection, client, sync_client, testbed), or mark the test "
    '@pytest.mark.testbed; db_access = "implicit" lets every test reach it.'
)

SEED_FAILED = (
    "fastapi-testbed: the seed [tool.testbed] seed = {value!r} in {path} raised {kind}: "
    "{error}\n    at {where}\nFix the seed function; it is called once, with a session of the "
    "app's main engine, after the schema is built."
)

NOT_A_MODEL = (
    "fastapi-testbed: {name} is not a mapped model or a Table; pass the model class "
    "(assert_database_has(User, email=...)) or its table."
)
NO_SUCH_COLUMN = "fastapi-testbed: {model} has no column {name!r}; its columns: {columns}."
NO_DATABASE = (
    "fastapi-testbed: {function} needs the plugin's test database, and none is bound: run it in "
    "a pytest session of a project with a [tool.testbed] table, after the app is imported."
)

# --- bad input: one message, exit code 4 (issue 12) ----------------------------------------------
NOT_ASGI = (
    "fastapi-testbed: [tool.testbed] app = {value!r} is {found}, not an ASGI application.\n"
    "Point app in {path} at the application itself (the FastAPI() or Starlette() object, or any "
    'async callable taking scope, receive and send): "myapp.main:app", or '
    '"myapp.main:create_app()" for a factory.{hint}'
)

IMPORT_RAISED = (
    "fastapi-testbed: [tool.testbed] {key} = {value!r}: {action} raised {kind}: {error}\n"
    "    at {where}\nFix the code there, or the settings it reads ([tool.testbed] env in {path} "
    "puts variables in os.environ before the app is imported)."
)

ENV_MISSING = (
    "fastapi-testbed: [tool.testbed] {key} = {value!r}: the app reads the environment variable "
    "{name!r}, which is not set\n    at {where}\nSet it in [tool.testbed] env in {path} (the "
    'plugin puts it in os.environ before the app is imported): env = {{ {name} = "..." }}.'
)

ENV_NOT_STRING = (
    "fastapi-testbed: [tool.testbed] env.{name} in {path} is {found!r}, {kind}; environment "
    "variables hold strings.\nQuote it: {name} = {suggestion}."
)

UNKNOWN_DRIVER = (
    "fastapi-testbed: the database URL {url} (from {source}) names the driver {driver!r}, which "
    "SQLAlchemy does not know for {backend}.\nName one of {known} in the URL, or none "
    "({backend}://...) to let the plugin choose; change {setting}."
)

WRONG_KIND_DRIVER = (
    "fastapi-testbed: the database URL {url} names the {found} driver {driver!r}, but the engine "
    "that uses it is {kind} ({maker}).\nName {article} {kind} driver ({candidates}) in the URL, or "
    "none ({backend}://...) to let the plugin choose; change it where the app gets it (its code, "
    "[tool.testbed] env or the environment variable it reads)."
)

SETUP_FAILED = (
    "fastapi-testbed: preparing the test run failed with {kind}: {error}\n    at {where}\n"
    "Check the [tool.testbed] table in {path} and the server in --testbed-db-url / "
    "TESTBED_DATABASE_URL / [tool.testbed] database_url."
)

RUN_STOPPED = (
    "fastapi-testbed stopped the run: the app or a test database could not be set up (the ERROR "
    "line says why; exit code 4)."
)
