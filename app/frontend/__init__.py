"""The Backend Framework web frontend: a server-rendered shop that calls the API.

``create_app`` is the application factory; ``frontend.wsgi:app`` is what uWSGI loads.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask, g, get_flashed_messages, has_request_context, request, session
from flask.sessions import SessionInterface, SessionMixin
from flask_session import Session
from flask_wtf import CSRFProtect

from .api_client import REQUEST_ID_HEADER, APIClient
from .config import ConfigError, load_config
from .logging_setup import configure_logging
from .proxies import TrustedProxies, TrustedProxyMiddleware
from .ratelimit import init_limiter

__all__ = ["ConfigError", "create_app"]

log = logging.getLogger(__name__)
csrf = CSRFProtect()
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Paths that must work without Redis (liveness) or never need a session (assets).
_SESSIONLESS_PREFIXES = ("/health/", "/static/")


class _SessionlessPathsInterface(SessionInterface):
    """Wraps the Redis session interface so health checks and assets never touch Redis.

    Liveness must not depend on Redis, and a readiness probe that opened a session would write
    one key per probe.
    """

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_session(self, app: Flask, request_: Any) -> SessionMixin | None:
        if request_.path.startswith(_SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return self.inner.open_session(app, request_)

    def save_session(self, app: Flask, session_: SessionMixin, response: Any) -> None:
        # None: opening failed (Redis down) and an error page is being sent.
        if session_ is None or self.is_null_session(session_):
            return None
        return self.inner.save_session(app, session_, response)


def build_redis_client(url: str, password: str | None) -> redis.Redis:
    """Create the Redis client for sessions and readiness.

    Args:
        url: ``REDIS_URL`` (a password in the URL itself also works).
        password: ``REDIS_PASSWORD`` from its file, used when the URL carries none.

    Returns:
        A client with short timeouts, so a dead Redis fails a request fast instead of hanging.
    """
    return redis.Redis.from_url(
        url,
        password=password,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
    )


def _request_id_provider() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _client_address_provider() -> str | None:
    # The visitor's address, already vouched for by the edge (TrustedProxyMiddleware).
    return request.remote_addr if has_request_context() else None


def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the frontend application.

    Args:
        config_overrides: Flask config keys that win over the environment (tests use this).

    Returns:
        The configured Flask application.

    Raises:
        ConfigError: A required setting is missing or malformed (one-line message).
    """
    config = load_config(overrides=config_overrides)
    configure_logging(config["LOG_LEVEL"])

    app = Flask(__name__)
    app.config.update(config)
    # X-Forwarded-For/-Proto only from TRUSTED_PROXY_HOSTS (the edge Nginx). The Host the
    # browser sent is the host; X-Forwarded-Host/Port would be whatever the client wrote.
    proxies = TrustedProxies.from_setting(app.config["TRUSTED_PROXY_HOSTS"])
    app.wsgi_app = TrustedProxyMiddleware(app.wsgi_app, proxies)  # type: ignore[method-assign]

    _register_release(app)
    redis_client = build_redis_client(app.config["REDIS_URL"], app.config["REDIS_PASSWORD"])
    app.extensions["redis"] = redis_client
    app.config.update(
        SESSION_TYPE="redis",
        SESSION_REDIS=redis_client,
        SESSION_KEY_PREFIX="frontend:session:",
        SESSION_PERMANENT=True,
    )
    Session(app)
    app.session_interface = _SessionlessPathsInterface(app.session_interface)
    csrf.init_app(app)
    init_limiter(app)

    app.extensions["api_client"] = APIClient(
        app.config["API_URL"],
        timeout=app.config["API_TIMEOUT_SECONDS"],
        connect_timeout=app.config["API_CONNECT_TIMEOUT_SECONDS"],
        retries=app.config["API_RETRIES"],
        backoff=app.config["API_RETRY_BACKOFF_SECONDS"],
        request_id_provider=_request_id_provider,
        client_address_provider=_client_address_provider,
        categories_ttl=app.config["CATEGORIES_CACHE_SECONDS"],
    )

    _register_request_hooks(app)

    from . import auth, errors, health, views

    app.register_blueprint(views.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(health.bp)
    errors.register(app)
    return app


def _register_request_hooks(app: Flask) -> None:
    log_requests = app.config["ACCESS_LOG"]

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish_request(response):  # noqa: ANN001, ANN202 - Flask hook signature
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        started = g.get("started")
        status = response.status_code
        # ACCESS_LOG=false when Nginx logs every request already (the deployed stack). A 5xx
        # page is logged all the same, as the API logs its own.
        if (log_requests or status >= 500) and not request.path.startswith(_SESSIONLESS_PREFIXES):
            log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)
                    if started
                    else None,
                    "remote_addr": request.remote_addr,
                },
            )
        return response

    @app.context_processor
    def _inject_user() -> dict[str, Any]:
        # The session may be unusable (Redis down while an error page renders): degrade to
        # anonymous instead of failing the error page too.
        try:
            user = session.get("user")
        except Exception:  # noqa: BLE001
            user = None
        return {"current_user": user}

    @app.template_global()
    def safe_flashed_messages() -> list[tuple[str, str]]:
        """Flashed messages, or none when the session store is unreachable."""
        try:
            return get_flashed_messages(with_categories=True)
        except Exception:  # noqa: BLE001
            return []


def _register_release(app: Flask) -> None:
    """Name the release that answers: BF_RELEASE (the deploy sets it), "dev" when unset.

    Every response carries it in X-Release, so a client (and the deploy tests) can tell which
    release served it while a rolling update runs.
    """
    release = os.environ.get("BF_RELEASE", "dev")
    app.config["RELEASE"] = release

    @app.after_request
    def _release_header(response):  # noqa: ANN001, ANN202 - Flask hook signature
        response.headers["X-Release"] = release
        return response
