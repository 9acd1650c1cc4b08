"""Domain errors raised by the services; `main` maps each to an HTTP status."""

from __future__ import annotations


class AppError(Exception):
    """Base of the domain errors; `str(error)` is the message shown to the client."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(AppError):
    status_code = 404


class ConflictError(AppError):
    status_code = 409


class ValidationError(AppError):
    status_code = 422


class AuthenticationError(AppError):
    status_code = 401


class AccountLockedError(AuthenticationError):
    pass


class PermissionDeniedError(AppError, PermissionError):
    """Also a built-in `PermissionError`, so callers may catch either."""

    status_code = 403
