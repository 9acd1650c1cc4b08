"""Settings read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = "development"
    database_url: str = "sqlite+aiosqlite:///./tasks.db"
    # Development only; set SECRET_KEY (32+ bytes) anywhere else.
    secret_key: str = "dev-secret-key-change-me-before-deploying"
    jwt_algorithm: str = "HS256"
    access_token_expire_minutes: int = 30
    refresh_token_expire_days: int = 7
    password_reset_expire_minutes: int = 60
    bcrypt_rounds: int = 12

    max_failed_logins: int = 5
    lockout_minutes: int = 15

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Tasks <no-reply@tasks.example.com>"
    frontend_url: str = "http://localhost:3000"


settings = Settings()
