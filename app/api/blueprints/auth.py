"""Registration, login (JWT) and the current user."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_jwt_extended import create_access_token

from api.extensions import limiter
from api.models import User
from api.openapi import EnvelopeBlueprint
from api.schemas import LoginResultSchema, LoginSchema, RegisterSchema, UserSchema
from api.services import auth as auth_service

blp = EnvelopeBlueprint("auth", __name__, description="Accounts and tokens")
BEARER = [{"bearerAuth": []}]


@blp.route("/register", methods=["POST"])
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, description="Email already registered")
def register(body: dict[str, Any]) -> User:
    """Create an account."""
    return auth_service.register_user(body["email"], body["password"], body["name"])


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
@blp.alt_response(401, description="Invalid email or password")
@blp.alt_response(429, description="Too many login attempts")
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange email and password for a JWT access token."""
    user = auth_service.authenticate(body["email"], body["password"])
    token = create_access_token(identity=str(user.id), additional_claims={"adm": user.is_admin})
    return {"access_token": token, "user": user}


@blp.route("/me")
@auth_service.login_required
@blp.response(200, UserSchema)
@blp.alt_response(401, description="Missing or invalid token")
@blp.doc(security=BEARER)
def me() -> User:
    """Return the authenticated user."""
    return g.user
