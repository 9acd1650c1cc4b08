"""s3: moto-backed S3 with fresh buckets, for boto3 and (through moto's server) aioboto3."""

from __future__ import annotations

from fastapi_testbed.fakes.extras import MISSING_EXTRA
from tests.conftest import Project
from tests.fakes.conftest import assert_in_output, build

ROUTES = """
import os

import aioboto3
import boto3

S3_ENDPOINT = os.environ["S3_ENDPOINT"]  # read at import time, as settings classes do


@app.put("/avatars/{name}")
def put_avatar(name: str, payload: dict):
    boto3.client("s3").put_object(Bucket="avatars", Key=name, Body=payload["data"].encode())
    return {"key": name}


@app.put("/documents/{name}")
async def put_document(name: str, payload: dict):
    async with aioboto3.Session().client("s3", endpoint_url=S3_ENDPOINT) as s3:
        await s3.put_object(Bucket="documents", Key=name, Body=payload["data"].encode())
    return {"key": name}
"""

TABLE = """
s3_buckets = ["avatars", "documents"]
s3_endpoint_env = "S3_ENDPOINT"
"""

TESTS = """
import os

import boto3


async def test_1_boto3_upload(client, s3):
    assert (await client.put("/avatars/ada.png", json={"data": "png"})).status_code == 200
    assert s3.get_object(Bucket="avatars", Key="ada.png")["Body"].read() == b"png"


async def test_2_aioboto3_upload_through_the_server(client, s3):
    assert (await client.put("/documents/cv.txt", json={"data": "cv"})).status_code == 200
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="documents")["Contents"]] == ["cv.txt"]


def test_3_buckets_are_fresh(s3):
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["avatars", "documents"]
    assert s3.list_objects_v2(Bucket="avatars")["KeyCount"] == 0


def test_4_credentials_are_fake_and_aws_unreachable():
    assert os.environ["AWS_ACCESS_KEY_ID"] in ("testing", "FOOBARKEY")  # ours, or moto's own
    assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull  # not ~/.aws/credentials
    assert os.environ["S3_ENDPOINT"].startswith("http://127.0.0.1:")
    # no s3 fixture: moto still answers, with nothing in it
    assert boto3.client("s3").list_buckets()["Buckets"] == []
"""


def test_s3_with_boto3_and_aioboto3(sqlite_project: Project) -> None:
    build(sqlite_project, TESTS, routes=ROUTES, extra=TABLE)
    sqlite_project.run().assert_outcomes(passed=4)


def test_s3_region_and_no_server(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        def test_region(s3):
            location = s3.get_bucket_location(Bucket="eu-files")["LocationConstraint"]
            assert location == "eu-west-1"
        """,
        extra='s3_buckets = ["eu-files"]\ns3_region = "eu-west-1"',
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_s3_without_configuration(sqlite_project: Project) -> None:
    build(
        sqlite_project,
        """
        def test_plain_s3(s3):
            s3.create_bucket(Bucket="made-in-test")
            assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["made-in-test"]
        """,
    )
    sqlite_project.run().assert_outcomes(passed=1)


def test_missing_s3_extra(sqlite_project: Project, without) -> None:  # type: ignore[no-untyped-def]
    without("moto")
    build(sqlite_project, "def test_s3(s3):\n    pass\n", extra='s3_buckets = ["avatars"]')
    result = sqlite_project.run()
    result.assert_outcomes(errors=1)
    assert_in_output(
        result, MISSING_EXTRA.format(feature="The s3 fixture", package="moto", extra="s3")
    )
