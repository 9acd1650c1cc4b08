"""Nothing to set up: the database, the clients and the sessions come from fastapi-testbed.

The only local fixture picks anyio's backend: the async tests run on asyncio (trio is not
installed).
"""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
