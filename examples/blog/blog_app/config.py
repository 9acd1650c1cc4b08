"""Settings read from the environment (or a `.env` file) once, at import time."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str
    secret_key: SecretStr
    algorithm: str = "HS256"
    access_token_expire_minutes: int = 30
    reset_token_expire_minutes: int = 15
    # An argon2.profiles name; tests use CHEAPEST, since a real hash costs ~100 ms of CPU.
    argon2_profile: Literal["RFC_9106_HIGH_MEMORY", "RFC_9106_LOW_MEMORY", "CHEAPEST"] = (
        "RFC_9106_LOW_MEMORY"
    )

    s3_bucket_name: str
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    # Set to point at an S3-compatible server (MinIO, moto); empty means AWS itself.
    s3_endpoint_url: str | None = None

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "noreply@blog.example"
    frontend_url: str = "http://localhost:8000"

    max_upload_bytes: int = 5 * 1024 * 1024
    picture_size: int = 300


settings = Settings()  # type: ignore[call-arg]  # required fields come from the environment
