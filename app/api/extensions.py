"""Flask extension objects, created unbound and initialised in :func:`api.create_app`."""

from __future__ import annotations

import functools
import select
from collections.abc import Callable, Sequence
from typing import Any

import redis
from flask import Blueprint, Flask, current_app, has_request_context, request
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

from api.ratelimit import client_key

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


# The key is the client address vouched for by a trusted proxy (api.proxies), else the peer.
limiter = Limiter(key_func=client_key, default_limits=[_default_limit])


def _skipping(hook: Callable[..., Any], blueprints: frozenset[str]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def wrapper(*args: Any) -> Any:
        if request.blueprint in blueprints:
            # An after_request hook hands the response back; before_request and teardown
            # hooks return None (go on; the value is ignored).
            return args[0] if args else None
        return hook(*args)

    return wrapper


def init_limiter(app: Flask, unlimited: Sequence[Blueprint]) -> None:
    """Initialise the rate limiter, its request hooks returning at once for ``unlimited``.

    ``limiter.exempt`` alone leaves a blueprint with no limit to apply, but the limiter's hooks
    still run on each of its requests: they resolve its limits and exemption scopes, and while
    the limiter has Redis marked down its before-request hook PINGs Redis (0.5 s timeout)
    whenever a recovery check is due, on whichever request comes, a liveness probe included.
    The hooks are the ones ``init_app`` registers, found by what it added, so no name internal
    to Flask-Limiter is relied on.

    Args:
        app: The application.
        unlimited: Blueprints exempt from every limit (the health probes).
    """
    for blp in unlimited:
        limiter.exempt(blp)
    names = frozenset(blp.name for blp in unlimited)
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    before = [len(registry.get(None, ())) for registry in registries]
    limiter.init_app(app)
    for registry, known in zip(registries, before, strict=True):
        hooks = registry.get(None, [])
        hooks[known:] = [_skipping(hook, names) for hook in hooks[known:]]


def _redis_client(url: str) -> redis.Redis:
    # Short timeouts: a Redis outage must degrade requests, not hang them.
    return redis.Redis.from_url(
        url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=10
    )


def init_redis(app: Flask) -> None:
    """Create the Redis clients: REDIS_URL (readiness) and CACHE_REDIS_URL (response cache).

    Args:
        app: The application.
    """
    app.extensions["redis"] = _redis_client(app.config["REDIS_URL"])
    if app.config["CACHE_REDIS_URL"] == app.config["REDIS_URL"]:
        app.extensions["cache_redis"] = app.extensions["redis"]
    else:
        app.extensions["cache_redis"] = _redis_client(app.config["CACHE_REDIS_URL"])


def get_redis() -> redis.Redis:
    """Return the application's Redis client (REDIS_URL: sessions, counters, readiness).

    Returns:
        The client created by :func:`init_redis`.
    """
    return current_app.extensions["redis"]


def get_cache_redis() -> redis.Redis:
    """Return the Redis client of the response cache (CACHE_REDIS_URL, may evict).

    Returns:
        The client created by :func:`init_redis`.
    """
    return current_app.extensions["cache_redis"]


def _closed_by_server(dbapi_connection: Any) -> bool:
    """Whether an idle pooled connection was closed by the server, without a round trip.

    An idle PostgreSQL connection receives nothing; when the server ends it (restart,
    ``pg_terminate_backend``, idle timeout) the socket becomes readable (the termination
    message, then EOF). A readable socket is therefore a dead connection, or at worst a live
    one thrown away for nothing.
    """
    if getattr(dbapi_connection, "closed", 0):
        return True
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return True


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if _closed_by_server(dbapi_connection):
        # The pool discards this connection and checks out (or opens) another one.
        raise DisconnectionError("connection closed by the server")


def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None and getattr(dbapi_connection, "autocommit", False):
        try:
            dbapi_connection.autocommit = False  # local to psycopg2: no round trip
        except Exception:  # noqa: BLE001 - a broken connection is discarded by the pool anyway
            _record.invalidate()


def _reads_without_transaction(_session: Any, _transaction: Any, connection: Any) -> None:
    """Run the ORM session of a GET/HEAD/OPTIONS request in autocommit mode.

    psycopg2 otherwise sends BEGIN before the first query and the pool a ROLLBACK when the
    session ends: two round trips of three for a one-row read. Under READ COMMITTED each
    statement sees its own snapshot inside a transaction too, so reads see the same data;
    no read-only route takes row locks.
    """
    if not has_request_context() or request.method not in _SAFE_METHODS:
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.autocommit:
        dbapi_connection.autocommit = True  # nothing was sent yet on this connection


def init_db_round_trips(app: Flask) -> None:
    """Cut PostgreSQL round trips: no pre-ping query, no BEGIN/ROLLBACK around reads.

    Args:
        app: The application, after ``db.init_app``.
    """
    with app.app_context():
        engine = db.engine
    if not event.contains(engine, "checkout", _on_checkout):
        event.listen(engine, "checkout", _on_checkout)
        event.listen(engine, "checkin", _on_checkin)
    if not event.contains(db.session, "after_begin", _reads_without_transaction):
        event.listen(db.session, "after_begin", _reads_without_transaction)
