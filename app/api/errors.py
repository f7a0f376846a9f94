"""The response envelope and the error handlers that keep every error in it.

No handler ever returns HTML or a stack trace: HTTP errors, validation errors, database and
Redis outages and unexpected exceptions all become ``{"success": false, "data": ..., "error":
"..."}`` with the status the API contract gives.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from api.extensions import db

log = logging.getLogger(__name__)


def envelope(
    data: Any = None, error: str | None = None, status: int = 200, headers: Any = None
) -> tuple[Response, int, Any]:
    """Build a JSON response in the envelope.

    Args:
        data: The payload (``data``).
        error: The error message, or None for a success.
        status: HTTP status code.
        headers: Extra response headers.

    Returns:
        A Flask view return value.
    """
    body = {"success": error is None, "data": data, "error": error}
    return jsonify(body), status, headers or {}


class AppError(Exception):
    """An expected error with its HTTP status, turned into an envelope by the handler."""

    status = 400

    def __init__(self, message: str, data: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if status is not None:
            self.status = status


class NotFoundError(AppError):
    """404: the resource does not exist (or the caller may not know it exists)."""

    status = 404


class ConflictError(AppError):
    """409: duplicate unique value, insufficient stock, resource still referenced."""

    status = 409


class ForbiddenError(AppError):
    """403: authenticated but not allowed."""

    status = 403


class UnauthorizedError(AppError):
    """401: missing or invalid credentials."""

    status = 401


class ValidationError(AppError):
    """400 naming the fields, with per-field messages in ``data.fields``."""

    status = 400

    def __init__(self, fields: dict[str, Any]) -> None:
        names = ", ".join(sorted(fields)) or "body"
        super().__init__(f"Validation failed: {names}", {"fields": fields})


def _flatten_webargs_messages(messages: Any) -> dict[str, Any]:
    """Merge webargs' ``{location: {field: [msg]}}`` into ``{field: [msg]}``."""
    fields: dict[str, Any] = {}
    if not isinstance(messages, dict):
        return {"body": messages}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


def handle_http_exception(error: HTTPException) -> tuple[Response, int, Any]:
    """Turn any werkzeug HTTP exception (404, 405, 413, 429, webargs 422...) into the envelope.

    Args:
        error: The exception.

    Returns:
        The envelope response.
    """
    code = error.code or 500
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    data = getattr(error, "data", None) or {}
    if code == 422 or (code == 400 and "messages" in data):
        messages = data.get("messages", {})
        if messages == {"json": ["Invalid JSON body."]}:
            return envelope(
                {"fields": {"body": ["Invalid JSON body."]}}, "Invalid JSON body", 400, headers
            )
        err = ValidationError(_flatten_webargs_messages(messages))
        return envelope(err.data, err.message, 400, headers)
    if code == 429:
        message = f"Too many requests: rate limit {error.description} exceeded"
    elif isinstance(data, dict) and data.get("message"):
        message = str(data["message"])
    else:
        message = error.description or error.name
    return envelope(None, message, code, headers)


def handle_app_error(error: AppError) -> tuple[Response, int, Any]:
    """Turn an :class:`AppError` into the envelope.

    Args:
        error: The exception.

    Returns:
        The envelope response.
    """
    if error.status >= 400:
        db.session.rollback()
    return envelope(error.data, error.message, error.status)


def handle_database_down(error: DBAPIError) -> tuple[Response, int, Any]:
    """503 when PostgreSQL cannot be reached; other DBAPI errors are 500s.

    Args:
        error: The SQLAlchemy exception.

    Returns:
        The envelope response.
    """
    _safe_rollback()
    if isinstance(error, OperationalError) or error.connection_invalidated:
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return envelope(
            None, "Service unavailable: database unavailable", 503, {"Retry-After": "5"}
        )
    return handle_unexpected(error)


def handle_redis_down(error: RedisError) -> tuple[Response, int, Any]:
    """503 for a Redis failure that was not degraded gracefully where it happened.

    Args:
        error: The redis-py exception.

    Returns:
        The envelope response.
    """
    log.warning("redis unavailable: %s", type(error).__name__)
    return envelope(None, "Service unavailable: redis unavailable", 503, {"Retry-After": "5"})


def handle_unexpected(error: Exception) -> tuple[Response, int, Any]:
    """500 for anything else: logged with the request id, never shown to the client.

    Args:
        error: The exception.

    Returns:
        The envelope response.
    """
    _safe_rollback()
    log.error("unhandled exception", exc_info=error)
    request_id = g.get("request_id")
    return envelope({"request_id": request_id}, "Internal server error", 500)


def _safe_rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: S110 - rollback on a dead connection may fail too
        pass


def register_error_handlers(app: Flask) -> None:
    """Register the envelope error handlers (after flask-smorest, so ours win).

    Args:
        app: The application.
    """
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(DBAPIError, handle_database_down)
    app.register_error_handler(RedisError, handle_redis_down)
    app.register_error_handler(Exception, handle_unexpected)
