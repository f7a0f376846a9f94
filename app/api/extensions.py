"""Flask extension objects, created unbound and initialised in :func:`api.create_app`."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names keep Alembic migrations reproducible across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()


def _default_limit() -> str:
    # Read per request so each app (tests build several) uses its own RATELIMIT_DEFAULT.
    return current_app.config["RATELIMIT_DEFAULT"]


# ProxyFix (x_for=1) makes remote_addr the client address Nginx saw.
limiter = Limiter(key_func=get_remote_address, default_limits=[_default_limit])


def init_redis(app: Flask) -> None:
    """Create the Redis client used for the cache and the readiness check.

    Args:
        app: The application.
    """
    # Short timeouts: a Redis outage must degrade requests, not hang them.
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"],
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
    )


def get_redis() -> redis.Redis:
    """Return the application's Redis client.

    Returns:
        The client created by :func:`init_redis`.
    """
    return current_app.extensions["redis"]
