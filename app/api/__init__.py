"""The API service: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from api import ratelimit  # noqa: F401 - registers the one-trip rate-limit strategy
from api.config import ConfigError, load_config
from api.errors import envelope, register_error_handlers
from api.extensions import db, init_db_round_trips, init_limiter, init_redis, jwt, migrate
from api.logging_setup import configure_logging, init_request_id
from api.openapi import EnvelopeApi
from api.proxies import TrustedProxies, TrustedProxyMiddleware

__all__ = ["ConfigError", "create_app"]

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def _init_jwt_errors() -> None:
    """Answer every token problem with a 401 in the envelope (not the library's default)."""

    def unauthorized(reason: str) -> Any:
        return envelope(None, f"Authentication required: {reason}", 401)

    def expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Any:
        return envelope(
            None, "Authentication required: token has expired", 401, code="token_expired"
        )

    def rejected(_header: dict[str, Any], _payload: dict[str, Any]) -> Any:
        return envelope(None, "Authentication required: token rejected", 401)

    jwt.unauthorized_loader(unauthorized)
    jwt.invalid_token_loader(unauthorized)
    jwt.expired_token_loader(expired)
    jwt.revoked_token_loader(rejected)
    jwt.needs_fresh_token_loader(rejected)
    jwt.token_verification_failed_loader(rejected)
    jwt.user_lookup_error_loader(rejected)


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    Args:
        config_overrides: Settings that win over the environment (env names such as
            ``DATABASE_URL``, or Flask config keys).

    Returns:
        The configured Flask application.

    Raises:
        ConfigError: A required setting is missing or invalid.
    """
    config = load_config(overrides=config_overrides)
    configure_logging(config["LOG_LEVEL"])

    app = Flask(__name__)
    app.config.update(config)
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=config["JWT_ACCESS_TOKEN_EXPIRES"])
    # X-Forwarded-For/-Proto count only from TRUSTED_PROXY_HOSTS (the edge, the frontend).
    proxies = TrustedProxies.from_setting(config["TRUSTED_PROXY_HOSTS"])
    app.extensions["trusted_proxies"] = proxies
    app.wsgi_app = TrustedProxyMiddleware(app.wsgi_app, proxies)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    _register_release(app)
    db.init_app(app)
    init_db_round_trips(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    jwt.init_app(app)
    _init_jwt_errors()
    from api.blueprints import auth, categories, health, orders, products

    init_limiter(app, unlimited=[health.blp])
    init_redis(app)
    init_request_id(app)

    api = EnvelopeApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.register_blueprint(health.blp, url_prefix="/api/health")
    api.register_blueprint(auth.blp, url_prefix="/api/auth")
    api.register_blueprint(categories.blp, url_prefix="/api/categories")
    api.register_blueprint(products.blp, url_prefix="/api/products")
    api.register_blueprint(orders.blp, url_prefix="/api/orders")
    # After flask-smorest's own HTTPException handler, so the envelope handlers replace it.
    register_error_handlers(app)

    from api.cli import register_cli

    register_cli(app)
    return app


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
