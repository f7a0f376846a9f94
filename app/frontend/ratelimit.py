"""Rate limits of the frontend's own form posts (login, registration), per visitor address.

The API limits the same actions per address and per account; limiting here as well refuses a
password-guessing visitor before the API is called at all. Counters live in Redis
(``REDIS_URL``), shared by every uWSGI worker and replica.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from flask import Flask, current_app, request
from flask_limiter import Limiter


def _client_address() -> str:
    # REMOTE_ADDR as rewritten by TrustedProxyMiddleware: the visitor, not the edge Nginx.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=_client_address, default_limits=[])


def login_limit() -> str:
    """``RATELIMIT_LOGIN`` of the current app."""
    return current_app.config["RATELIMIT_LOGIN"]


def register_limit() -> str:
    """``RATELIMIT_REGISTER`` of the current app."""
    return current_app.config["RATELIMIT_REGISTER"]


def _with_password(url: str, password: str | None) -> str:
    parts = urlsplit(url)
    if not password or parts.password or parts.scheme == "unix":
        return url
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(parts.username or '', safe='')}:{quote(password, safe='')}@"
    netloc += f"{parts.hostname or ''}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def init_limiter(app: Flask) -> None:
    """Bind the limiter to ``app``, its counters in the session Redis.

    Args:
        app: The application (``REDIS_URL``, ``REDIS_PASSWORD`` and the limits configured).
    """
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI",
        _with_password(app.config["REDIS_URL"], app.config["REDIS_PASSWORD"]),
    )
    app.config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "frontend-rl")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Redis down: count in process memory rather than refuse or fail every login.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
