"""Registration, login (JWT), logout (token revocation) and the current user."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g

from api.extensions import limiter
from api.models import User
from api.openapi import BEARER, EnvelopeBlueprint
from api.ratelimit import account_key
from api.schemas import (
    LoginResultSchema,
    LoginSchema,
    RegisterResultSchema,
    RegisterSchema,
    UserSchema,
)
from api.services import auth as auth_service

blp = EnvelopeBlueprint("auth", __name__, description="Accounts and tokens")


@blp.route("/register", methods=["POST"])
# Checked before the body is parsed and the password hashed: a refused attempt costs no scrypt.
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER"])
@limiter.limit(lambda: current_app.config["RATELIMIT_REGISTER_ACCOUNT"], key_func=account_key)
@blp.arguments(RegisterSchema)
@blp.response(202, RegisterResultSchema)
@blp.error(429, "Too many registrations from this client (RATELIMIT_REGISTER)")
def register(body: dict[str, Any]) -> dict[str, str]:
    """Register an account: the same answer whether or not the email already has one.

    A new address gets an account with this password; an address that already has an account
    keeps it unchanged (its owner logs in with their password). The answer does not say which,
    so registration does not reveal who has an account.
    """
    email = auth_service.register_user(body["email"], body["password"], body["name"])
    return {"email": email}


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"])
# Per account too: guesses at one password from many addresses are counted together.
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"], key_func=account_key)
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
@blp.error(401, "Invalid email or password")
@blp.error(429, "Too many login attempts (RATELIMIT_LOGIN)")
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange email and password for a JWT access token."""
    user = auth_service.authenticate(body["email"], body["password"])
    return {"access_token": auth_service.issue_token(user), "user": user}


@blp.route("/logout", methods=["POST"])
@auth_service.login_required
@blp.response(204)
@blp.doc(security=BEARER)
def logout() -> Response:
    """Revoke every token of the caller, this one included (log out everywhere)."""
    auth_service.revoke_tokens(g.user)
    return Response(status=204)


@blp.route("/me")
@auth_service.login_required
@blp.response(200, UserSchema)
@blp.doc(security=BEARER)
def me() -> User:
    """Return the authenticated user."""
    return g.user
