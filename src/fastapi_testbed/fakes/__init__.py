"""Fakes and helpers for FastAPI tests: mail, S3, outbound HTTP, overrides, SQL counting, factories.

The fixtures (`mail_outbox`, `s3`, `http_mock`, `override`, `login_as`, `assert_num_queries`,
`assert_max_queries`) come from the pytest plugin `fastapi_testbed.fakes.plugin`. The plain
context managers under them are importable from here for scripts and other runners; each is
imported on first use, so a missing optional dependency only matters to the fake that needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DependencyOverrides",
    "FactorySessions",
    "FakeS3",
    "HTTPMock",
    "Mail",
    "MailOutbox",
    "MissingExtraError",
    "NPlusOneDetector",
    "NetworkGuard",
    "QueryCounter",
    "SMTPCapture",
    "SendFunctionReplacement",
    "StrayRequestError",
    "assert_max_queries",
    "assert_num_queries",
    "parse_mail",
]

_HOMES = {
    "DependencyOverrides": "overrides",
    "FactorySessions": "factories",
    "FakeS3": "s3",
    "HTTPMock": "http",
    "Mail": "mail",
    "MailOutbox": "mail",
    "MissingExtraError": "extras",
    "NPlusOneDetector": "queries",
    "NetworkGuard": "network",
    "QueryCounter": "queries",
    "SMTPCapture": "mail",
    "SendFunctionReplacement": "mail",
    "StrayRequestError": "network",
    "assert_max_queries": "queries",
    "assert_num_queries": "queries",
    "parse_mail": "mail",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
