"""Users: registration, password checks and the admin account."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from api.errors import ConflictError, ForbiddenError, UnauthorizedError
from api.extensions import db
from api.models import User
from api.services.common import commit_or_conflict


@functools.cache
def _dummy_hash() -> str:
    # Checked when the email is unknown, so a login takes as long either way. Computed lazily:
    # scrypt at import time would slow down every worker start and CLI call.
    return generate_password_hash("dummy-password-for-timing")


def normalise_email(email: str) -> str:
    """Return the canonical (trimmed, lower-case) form of an email address.

    Args:
        email: The address as typed.

    Returns:
        The canonical address.
    """
    return email.strip().lower()


def hash_password(password: str) -> str:
    """Hash a password with werkzeug's default (scrypt).

    Args:
        password: The clear-text password.

    Returns:
        The salted hash.
    """
    return generate_password_hash(password)


def register_user(email: str, password: str, name: str) -> User:
    """Create a non-admin user.

    Args:
        email: Email address (unique, case-insensitive).
        password: Clear-text password.
        name: Display name.

    Returns:
        The new user.

    Raises:
        ConflictError: The email is already registered.
    """
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError("Email already registered")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password))
    db.session.add(user)
    commit_or_conflict("Email already registered")
    return user


def authenticate(email: str, password: str) -> User:
    """Return the user whose credentials these are.

    Args:
        email: Email address.
        password: Clear-text password.

    Returns:
        The user.

    Raises:
        UnauthorizedError: Unknown email or wrong password.
    """
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise UnauthorizedError("Invalid email or password")
    if not check_password_hash(user.password_hash, password):
        raise UnauthorizedError("Invalid email or password")
    return user


def current_user() -> User:
    """Return the user of the request's valid JWT.

    Returns:
        The user.

    Raises:
        UnauthorizedError: No valid token, or its user no longer exists.
    """
    verify_jwt_in_request()
    identity = get_jwt_identity()
    user = db.session.get(User, int(identity)) if str(identity).isdigit() else None
    if user is None:
        raise UnauthorizedError("User no longer exists")
    return user


def require_admin() -> User:
    """Return the current user if it is an admin.

    Returns:
        The admin user.

    Raises:
        UnauthorizedError: Not authenticated.
        ForbiddenError: Authenticated but not an admin.
    """
    user = current_user()
    if not user.is_admin:
        raise ForbiddenError("Admin privileges required")
    return user


def upsert_admin(email: str, password: str, name: str = "Administrator") -> tuple[User, str]:
    """Create the admin account or reset an existing account to admin with this password.

    Args:
        email: Admin email.
        password: Clear-text password.
        name: Display name for a new account.

    Returns:
        The user and what happened: ``"created"``, ``"updated"`` or ``"unchanged"`` (the deploy
        reports a change only for the first two, so a re-run stays changed=0).
    """
    email = normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(password), is_admin=True)
        db.session.add(user)
        outcome = "created"
    elif user.is_admin and check_password_hash(user.password_hash, password):
        outcome = "unchanged"
    else:
        user.is_admin = True
        if not check_password_hash(user.password_hash, password):
            user.password_hash = hash_password(password)
        outcome = "updated"
    db.session.commit()
    return user, outcome


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a view to require a valid JWT before its arguments are parsed.

    Args:
        view: The view function.

    Returns:
        The wrapped view; the user is in ``flask.g.user``.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user = current_user()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a view to require an admin's JWT before its arguments are parsed.

    Args:
        view: The view function.

    Returns:
        The wrapped view; the user is in ``flask.g.user``.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user = require_admin()
        return view(*args, **kwargs)

    return wrapper
