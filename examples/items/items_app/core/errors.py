"""Domain errors and the one JSON envelope every error response uses.

{"error_code": "NOT_FOUND", "message": "Item not found", "details": {...} | [...] | null}
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """Base of the errors services raise; the handler turns them into the envelope."""

    status_code: int = 500
    error_code: str = "INTERNAL_ERROR"
    default_message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class NotFoundError(AppError):
    status_code = 404
    error_code = "NOT_FOUND"
    default_message = "Resource not found"


class ConflictError(AppError):
    status_code = 409
    error_code = "CONFLICT"
    default_message = "Resource already exists"


class ValidationError(AppError):
    status_code = 422
    error_code = "VALIDATION_ERROR"
    default_message = "Request validation failed"


class AuthenticationError(AppError):
    status_code = 401
    error_code = "UNAUTHORIZED"
    default_message = "Not authenticated"

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"WWW-Authenticate": "Bearer"})


class PermissionDeniedError(AppError):
    status_code = 403
    error_code = "FORBIDDEN"
    default_message = "Permission denied"


# Error codes for HTTP errors raised by Starlette/FastAPI themselves (unknown route, 405, ...).
_HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
}


def error_body(error_code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error_code": error_code, "message": message, "details": details}


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(
        error_body(exc.error_code, exc.message, exc.details),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only the JSON-safe keys: `ctx` and `input` may hold exceptions or arbitrary objects.
    details = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return JSONResponse(
        error_body("VALIDATION_ERROR", "Request validation failed", details),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ERROR_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    details = None if isinstance(exc.detail, str) else exc.detail
    return JSONResponse(
        error_body(code, message, details),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body("INTERNAL_ERROR", "Internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled_error)
