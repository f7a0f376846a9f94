"""Users: registration, password checks and the admin account."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_jwt_extended import create_access_token, get_jwt, get_jwt_identity, verify_jwt_in_request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from api.errors import ForbiddenError, UnauthorizedError
from api.extensions import db
from api.models import User


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


def register_user(email: str, password: str, name: str) -> str:
    """Create a non-admin user, unless the email already has an account.

    Both cases look the same to the caller (same answer, one password hash each), so
    registration cannot be used to find out which addresses have an account. An existing
    account is left exactly as it was: its owner logs in with the password they already have.

    Args:
        email: Email address (unique, case-insensitive).
        password: Clear-text password.
        name: Display name (already stripped by the schema).

    Returns:
        The normalised email.
    """
    email = normalise_email(email)
    # Hashed before looking the address up, so both paths cost the same.
    password_hash = hash_password(password)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        return email
    db.session.add(User(email=email, name=name, password_hash=password_hash))
    try:
        db.session.commit()
    except IntegrityError:
        # The same address registered concurrently: it has an account now, as asked.
        db.session.rollback()
    return email


def issue_token(user: User) -> str:
    """Create an access token for ``user``, carrying its current token version.

    Args:
        user: The authenticated user.

    Returns:
        The signed JWT.
    """
    return create_access_token(
        identity=str(user.id),
        additional_claims={"adm": user.is_admin, "ver": user.token_version},
    )


def revoke_tokens(user: User) -> None:
    """Revoke every token issued to ``user`` so far (log out everywhere).

    Args:
        user: The user.
    """
    db.session.execute(
        update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
    )
    db.session.commit()


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
        UnauthorizedError: No valid token, its user no longer exists, or it was revoked.
    """
    verify_jwt_in_request()
    identity = get_jwt_identity()
    user = db.session.get(User, int(identity)) if str(identity).isdigit() else None
    if user is None:
        raise UnauthorizedError("User no longer exists")
    # Tokens from before token versions existed carry no "ver": they count as version 0.
    if get_jwt().get("ver", 0) != user.token_version:
        raise UnauthorizedError("Authentication required: token revoked", code="token_revoked")
    return user


def viewer_is_admin() -> bool:
    """Tell whether the request comes from an admin, on a route anonymous callers may use.

    Returns:
        False without an Authorization header; otherwise whether its token is an admin's.

    Raises:
        UnauthorizedError: A token was sent but is not valid.
    """
    if "Authorization" not in request.headers:
        return False
    return current_user().is_admin


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
        reports a change only for the first two, so a re-run stays changed=0). A new password
        revokes the account's earlier tokens.
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
            user.token_version += 1
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
