"""The response envelope and the error handlers that keep every error in it.

No handler ever returns HTML or a stack trace: HTTP errors, validation errors, database and
Redis outages and unexpected exceptions all become ``{"success": false, "data": ..., "error":
"...", "code": "..."}`` with the status the API contract gives. ``code`` is the machine-readable
reason (one of :data:`ERROR_CODES`); a validation error also carries ``fields`` (the same
per-field messages as ``data.fields``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from api.extensions import db

log = logging.getLogger(__name__)

# The default code of each status; views and services name a more precise one where it helps.
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}
# Every value ``code`` can take (the OpenAPI error schema lists them as an enum).
ERROR_CODES = (
    *_STATUS_CODES.values(),
    "validation_error",
    "invalid_json",
    "invalid_value",
    "token_expired",
    "token_revoked",
    "unknown_reference",
    "insufficient_stock",
    "product_unavailable",
    "order_too_large",
    "version_conflict",
    "database_unavailable",
    "database_busy",
    "database_timeout",
)


def envelope(
    data: Any = None,
    error: str | None = None,
    status: int = 200,
    headers: Any = None,
    code: str | None = None,
    fields: dict[str, Any] | None = None,
) -> tuple[Response, int, Any]:
    """Build a JSON response in the envelope.

    Args:
        data: The payload (``data``).
        error: The error message, or None for a success.
        status: HTTP status code.
        headers: Extra response headers.
        code: Machine-readable error code (errors only; defaults to the status's).
        fields: Per-field messages of a validation error (errors only).

    Returns:
        A Flask view return value.
    """
    body: dict[str, Any] = {"success": error is None, "data": data, "error": error}
    if error is not None:
        fallback = "internal_error" if status >= 500 else "bad_request"
        body["code"] = code or _STATUS_CODES.get(status, fallback)
        if fields is not None:
            body["fields"] = fields
    return jsonify(body), status, headers or {}


def envelope_json(data_json: bytes) -> Response:
    """Build a success response around ``data`` that is JSON text already (a cached page).

    The text goes out as it is, not parsed and dumped again; around it, the envelope is what
    :func:`envelope` sends (``jsonify`` outside debug mode: compact, final newline).

    Args:
        data_json: The payload, serialised.

    Returns:
        The response.
    """
    body = b'{"success":true,"data":' + data_json + b',"error":null}\n'
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


class AppError(Exception):
    """An expected error with its HTTP status, turned into an envelope by the handler."""

    status = 400
    code: str | None = None

    def __init__(
        self,
        message: str,
        data: Any = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


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
    code = "validation_error"

    def __init__(self, fields: dict[str, Any]) -> None:
        names = ", ".join(sorted(fields)) or "body"
        super().__init__(f"Validation failed: {names}", {"fields": fields})
        self.fields = fields


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
        if isinstance(messages, dict) and isinstance(messages.get("json"), list):
            # The body is not JSON at all (or nested too deeply): nothing to name but the body.
            fields = {"body": messages["json"]}
            return envelope(
                {"fields": fields}, "Invalid JSON body", 400, headers, "invalid_json", fields
            )
        err = ValidationError(_flatten_webargs_messages(messages))
        return envelope(err.data, err.message, 400, headers, err.code, err.fields)
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
    fields = error.fields if isinstance(error, ValidationError) else None
    return envelope(error.data, error.message, error.status, code=error.code, fields=fields)


# SQLSTATEs of PostgreSQL refusals that are the request's fault or a timeout, not an outage.
_STATEMENT_TIMEOUT = "57014"  # query_canceled: statement_timeout fired
_LOCK_TIMEOUT = "55P03"  # lock_not_available: lock_timeout fired
_RETRYABLE = ("40001", "40P01")  # serialization failure, deadlock detected
_PROGRAM_LIMIT = "54"  # program_limit_exceeded class: a value too large to store or index


def handle_database_error(error: DBAPIError) -> tuple[Response, int, Any]:
    """Map a database error to its envelope: never a 500 for a refusal or a timeout.

    Args:
        error: The SQLAlchemy exception.

    Returns:
        400 for a value PostgreSQL refuses (``DataError``, a program limit), 409 for a
        constraint, 503 when the database is unreachable, busy (``lock_timeout``) or asks for
        a retry, 504 when ``statement_timeout`` fired; a 500 only for anything else.
    """
    _safe_rollback()
    pgcode = getattr(error.orig, "pgcode", None) or ""
    if isinstance(error, DataError) or pgcode.startswith(_PROGRAM_LIMIT):
        log.info("database refused a value: %s", type(error.orig).__name__)
        return envelope(None, "Invalid value: the database refused it", 400, code="invalid_value")
    if isinstance(error, IntegrityError):
        return envelope(None, "Conflict: a constraint refused the change", 409)
    if pgcode == _STATEMENT_TIMEOUT:
        log.warning("database statement timeout")
        return envelope(
            None, "Gateway timeout: the database took too long", 504, code="database_timeout"
        )
    if pgcode == _LOCK_TIMEOUT or pgcode in _RETRYABLE:
        log.warning("database busy: %s", type(error.orig).__name__)
        return envelope(
            None,
            "Service unavailable: the data is busy, retry",
            503,
            {"Retry-After": "1"},
            code="database_busy",
        )
    if isinstance(error, OperationalError) or error.connection_invalidated:
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return envelope(
            None,
            "Service unavailable: database unavailable",
            503,
            {"Retry-After": "5"},
            code="database_unavailable",
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
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(RedisError, handle_redis_down)
    app.register_error_handler(Exception, handle_unexpected)
