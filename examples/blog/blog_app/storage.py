"""Profile pictures in S3: upload, delete, and the public URL of a stored key."""

from __future__ import annotations

from typing import Any

import aioboto3

from blog_app.config import settings

PICTURE_PREFIX = "profile_pics/"
DEFAULT_PICTURE_URL = "/static/profile_pics/default.jpg"

_session = aioboto3.Session()


def picture_key(image_file: str) -> str:
    return f"{PICTURE_PREFIX}{image_file}"


def picture_url(image_file: str | None) -> str:
    """Where a browser fetches the picture: the bucket's URL, or the bundled default."""
    if not image_file:
        return DEFAULT_PICTURE_URL
    key = picture_key(image_file)
    if settings.s3_endpoint_url:
        return f"{settings.s3_endpoint_url.rstrip('/')}/{settings.s3_bucket_name}/{key}"
    return f"https://{settings.s3_bucket_name}.s3.{settings.s3_region}.amazonaws.com/{key}"


def _client() -> Any:
    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return _session.client(
        "s3",
        region_name=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url or None,
        aws_access_key_id=secret(settings.s3_access_key_id),
        aws_secret_access_key=secret(settings.s3_secret_access_key),
    )


async def upload_picture(image_file: str, data: bytes) -> None:
    async with _client() as s3:
        await s3.put_object(
            Bucket=settings.s3_bucket_name,
            Key=picture_key(image_file),
            Body=data,
            ContentType="image/jpeg",
        )


async def delete_picture(image_file: str) -> None:
    async with _client() as s3:
        await s3.delete_object(Bucket=settings.s3_bucket_name, Key=picture_key(image_file))
