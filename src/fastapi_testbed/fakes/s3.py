"""S3 backed by moto: fake credentials, fresh buckets, nothing reaches AWS.

`FakeS3` patches botocore in-process (enough for boto3) and, for aioboto3/aiobotocore, which
moto cannot patch, also serves the same state over HTTP from a `ThreadedMotoServer`::

    fake = FakeS3(buckets=["avatars"], region="us-east-1")
    with fake.server() as endpoint, fake.mock() as s3:   # endpoint: "http://127.0.0.1:PORT"
        upload_avatar(...)                                # the app's code, boto3 or aioboto3
        assert s3.list_objects_v2(Bucket="avatars")["KeyCount"] == 1
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi_testbed.fakes.extras import require

__all__ = ["FAKE_AWS_ENVIRONMENT", "FakeS3"]

FEATURE = "The s3 fixture"

# Credentials that cannot sign a real request; config files pointed away from the user's own.
FAKE_AWS_ENVIRONMENT: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
UNSET_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN")


class FakeS3:
    """Moto-backed S3 with `buckets` created afresh inside each `mock()` block."""

    def __init__(self, buckets: list[str] | tuple[str, ...] = (), region: str = "us-east-1"):
        self.buckets = list(buckets)
        self.region = region
        self.endpoint: str | None = None
        self._server: Any = None
        self._client: Any = None

    def environment(self) -> dict[str, str]:
        """The variables to put in os.environ before the app is imported."""
        return {**FAKE_AWS_ENVIRONMENT, "AWS_DEFAULT_REGION": self.region}

    def start_server(self) -> str:
        """Serve moto over HTTP on a free port of 127.0.0.1; returns the endpoint URL."""
        server = require("moto.server", extra="s3", feature=FEATURE)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per call
        self._server = server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = self.endpoint = None

    @contextmanager
    def server(self) -> Iterator[str]:
        try:
            yield self.start_server()
        finally:
            self.stop_server()

    @contextmanager
    def patched(self) -> Iterator[None]:
        """Moto's in-process patch with empty state: no bucket, no object."""
        moto = require("moto", extra="s3", feature=FEATURE)
        mock = moto.mock_aws()
        mock.start()  # resets every moto backend, the server's included (same process)
        try:
            yield
        finally:
            mock.stop()

    def client(self) -> Any:
        """A boto3 S3 client, made once: client creation costs a few hundred milliseconds."""
        if self._client is None:
            boto3 = require("boto3", extra="s3", feature=FEATURE)
            self._client = boto3.session.Session().client("s3", region_name=self.region)
        return self._client

    def create_buckets(self) -> None:
        client = self.client()
        location = (
            {} if self.region == "us-east-1" else
            {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        )  # fmt: skip
        for bucket in self.buckets:
            client.create_bucket(Bucket=bucket, **location)

    @contextmanager
    def mock(self) -> Iterator[Any]:
        """Patch, create the buckets and give a boto3 client to assert on what was stored."""
        with self.patched():
            self.create_buckets()
            yield self.client()
