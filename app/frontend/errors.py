"""Error pages: the site answers with a page, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .api_client import APIError, APIUnavailable

log = logging.getLogger(__name__)


def _unavailable(what: str) -> tuple[str, int, dict[str, str]]:
    # Retry-After tells well-behaved clients (and Nginx error pages) this is temporary.
    return render_template("errors/service_unavailable.html", what=what), 503, {"Retry-After": "30"}


def _too_many(retry_after: str | None) -> tuple[str, int, dict[str, str]]:
    seconds = retry_after if retry_after and retry_after.isdigit() else "60"
    return render_template("errors/too_many_requests.html"), 429, {"Retry-After": seconds}


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""

    @app.errorhandler(APIUnavailable)
    def api_unavailable(exc: APIUnavailable) -> Any:
        log.error("API unavailable: %s", exc.message)
        return _unavailable("api")

    @app.errorhandler(redis.exceptions.RedisError)
    def redis_unavailable(exc: redis.exceptions.RedisError) -> Any:
        log.error("Redis unavailable: %s", exc)
        return _unavailable("sessions")

    @app.errorhandler(APIError)
    def api_error(exc: APIError) -> Any:
        if exc.status == 401:
            # The token expired or was revoked: forget it and ask for a fresh login.
            session.clear()
            flash("Your session has expired. Please log in again.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if exc.status in (403, 404):
            return render_template("errors/not_found.html"), 404
        if exc.status == 429:
            # The API's limit for this visitor (it sees the visitor's address, not ours).
            return _too_many(exc.retry_after)
        log.error("Unexpected API answer %s: %s", exc.status, exc.message)
        return render_template("errors/server_error.html"), 500

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return render_template("errors/bad_request.html", reason=exc.description), 400

    @app.errorhandler(429)
    def rate_limited(exc: HTTPException) -> Any:
        # Refused by our own limiter, which adds Retry-After (the end of its window) itself.
        return render_template("errors/too_many_requests.html"), 429

    @app.errorhandler(404)
    def not_found(exc: HTTPException) -> Any:
        return render_template("errors/not_found.html"), 404

    @app.errorhandler(405)
    def method_not_allowed(exc: HTTPException) -> Any:
        return render_template("errors/bad_request.html", reason="Method not allowed."), 405

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> Any:
        original = getattr(exc, "original_exception", None)
        # Errors raised while opening or saving the session (Redis down) bypass the specific
        # handlers above and arrive here.
        if isinstance(original, redis.exceptions.RedisError):
            log.error("Redis unavailable: %s", original)
            return _unavailable("sessions")
        if isinstance(original, APIUnavailable):
            return _unavailable("api")
        return render_template("errors/server_error.html"), 500
