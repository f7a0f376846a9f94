"""Schemathesis against the real API on real PostgreSQL and Redis: the document tells the truth.

Every operation of /api/openapi.json is called with generated requests (the examples, coverage
and fuzzing phases: valid and invalid data) and each answer goes through schemathesis' default
checks: no server error, a documented status, content type and headers, a body that conforms
to the documented schema, valid data accepted, invalid data rejected, authentication enforced
where declared. A failure names the operation and the check and prints a curl command.

The document is read at collection time from an app whose database is never contacted (serving
the document needs none); each generated request then goes to the test's app on the real
servers. Requests carry an admin token, so writes get past authentication and reach validation
and the database: the auth provider marks where it goes (schemathesis leaves it out of the cases
that test a missing one) and each call gets one freshly minted, because a generated logout
revokes the tokens issued before it. The auth check sends its own unauthenticated probes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from api.extensions import db
from api.models import Category, Product, User
from api.services.auth import hash_password, issue_token
from conftest import build_app
from flask import Flask
from hypothesis import HealthCheck, settings

# Bounded so the run takes a minute or two on 2 cores (coverage cases come on top).
MAX_EXAMPLES = 25

_document_app = build_app(
    "postgresql+psycopg2://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0"
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _document_app)


def _seed(app: Flask) -> int:
    """A category, an active and a withdrawn product and an admin; returns the admin's id."""
    with app.app_context():
        admin = User(
            email="admin@example.com",
            name="Admin",
            is_admin=True,
            password_hash=hash_password("admin-password"),
        )
        category = Category(name="Tea", slug="tea")
        db.session.add_all([admin, category])
        db.session.flush()
        db.session.add_all(
            [
                Product(
                    name="Sencha", slug="sencha", price=Decimal("4.50"), stock=20, category=category
                ),
                Product(name="Withdrawn", slug="withdrawn", price=Decimal("1.00"), is_active=False),
            ]
        )
        db.session.commit()
        return admin.id


# The app under test and its admin, for the auth provider (set by the fixture of each test).
_target: dict[str, Any] = {}


@pytest.fixture
def target_app(app: Flask) -> Iterator[Flask]:
    """The clean app with a little data behind it."""
    _target.update(app=app, admin_id=_seed(app))
    yield app
    _target.clear()


# Cases are built before the app exists (coverage cases at collection): the provider places
# this, the test swaps it for a real token just before the call.
_ADMIN_PLACEHOLDER = "Bearer admin-token-minted-at-call-time"


@schema.auth(refresh_interval=None)
class AdminToken:
    """Marks the cases that carry the admin's credentials."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return _ADMIN_PLACEHOLDER

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


def _fresh_admin_token() -> str:
    app = _target["app"]
    with app.app_context():
        return f"Bearer {issue_token(db.session.get(User, _target['admin_id']))}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # The same cases on every run (CI must not be flaky) and no example database in the tree;
    # SCHEMATHESIS_EXPLORE=1 draws new ones each run, to hunt for more.
    derandomize=not os.environ.get("SCHEMATHESIS_EXPLORE"),
    database=None,
)
def test_api_conforms_to_its_openapi_document(case, target_app):
    if case.headers and case.headers.get("Authorization") == _ADMIN_PLACEHOLDER:
        case.headers["Authorization"] = _fresh_admin_token()
    case.call_and_validate(app=target_app)
