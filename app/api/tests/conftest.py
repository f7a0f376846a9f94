"""Fixtures: one migrated database per session on the real PostgreSQL, a Redis db, clients."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from api import create_app
from api.extensions import db
from api.models import Category, Product, User
from api.services.auth import hash_password
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from flask_migrate import upgrade
from sqlalchemy import text

REDIS_DB = 7  # distinct from anything else on the shared test server
TABLES = "order_items, orders, products, categories, users"


def build_app(database_url: str, redis_url: str, **overrides: Any) -> Flask:
    """Create an app for tests (testing env, generous limits unless overridden)."""
    config = {
        "FLASK_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_DEFAULT": "100000 per minute",
        "RATELIMIT_LOGIN": "100000 per minute",
        "RATELIMIT_REGISTER": "100000 per minute",
        "LOG_LEVEL": "INFO",
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def database_url(postgres_server) -> str:
    """A fresh database for this session, migrated to head with Alembic."""
    url = postgres_server.url(postgres_server.create_database())
    app = build_app(url, "redis://127.0.0.1:1/0")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    """URL of the test Redis database."""
    return redis_server.url(REDIS_DB)


@pytest.fixture(scope="session")
def session_app(database_url: str, redis_url: str) -> Flask:
    """The application shared by most tests."""
    return build_app(database_url, redis_url)


def reset_state(app: Flask, redis_url: str) -> None:
    """Empty every table and the Redis db."""
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        db.session.commit()
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def app(session_app: Flask, redis_url: str) -> Iterator[Flask]:
    """The shared app with empty tables and an empty Redis db."""
    reset_state(session_app, redis_url)
    yield session_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the clean app."""
    return app.test_client()


def make_user(app: Flask, email: str, admin: bool = False, password: str = "secret-pass") -> dict:  # noqa: S107
    """Insert a user and return its id and Authorization header."""
    with app.app_context():
        user = User(
            email=email,
            name=email.split("@")[0],
            is_admin=admin,
            password_hash=hash_password(password),
        )
        db.session.add(user)
        db.session.commit()
        token = create_access_token(identity=str(user.id))
        return {"id": user.id, "headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
def admin(app: Flask) -> dict:
    """An admin user."""
    return make_user(app, "admin@example.com", admin=True)


@pytest.fixture
def user(app: Flask) -> dict:
    """A regular user."""
    return make_user(app, "alice@example.com")


def make_product(
    app: Flask,
    name: str = "Widget",
    price: str = "19.99",
    stock: int = 5,
    category: str | None = None,
    **fields: Any,
) -> int:
    """Insert a product directly (bypassing the API and its cache) and return its id."""
    with app.app_context():
        category_id = None
        if category:
            cat = Category(name=category, slug=category.lower())
            db.session.add(cat)
            db.session.flush()
            category_id = cat.id
        product = Product(
            name=name,
            slug=name.lower().replace(" ", "-"),
            price=Decimal(price),
            stock=stock,
            category_id=category_id,
            **fields,
        )
        db.session.add(product)
        db.session.commit()
        return product.id


def assert_envelope_error(
    response, status: int, contains: str | None = None, code: str | None = None
) -> dict:
    """Check an error response is the JSON envelope with ``status``; return its body.

    Error bodies carry ``code`` (machine-readable) beside the three envelope keys, and
    ``fields`` when they are validation errors.
    """
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) - {"fields"} == {"success", "data", "error", "code"}, body
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str) and body["code"]
    if code:
        assert body["code"] == code, body
    if contains:
        assert contains in body["error"], body["error"]
    return body
