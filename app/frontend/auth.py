"""Login, logout and registration; the JWT is kept only in the server-side session."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .api_client import APIError, APIUnavailable
from .forms import LoginForm, LogoutForm, RegisterForm
from .ratelimit import limiter, login_limit, register_limit
from .views import api

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


def _is_local_path(target: str) -> bool:
    """Whether ``target`` can only lead to a path of this site, in every browser.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so a slash,
    a tab and ``/evil.example`` is ``//evil.example``: another site. Any control character or
    backslash is refused, then the parsed URL must have no scheme and no host.
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(unicodedata.category(char) == "Cc" for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing aid."""
    if target and _is_local_path(target):
        return target
    return url_for("shop.product_list")


def _copy_api_field_errors(form: Any, exc: APIError) -> bool:
    """Attach the API's per-field messages to the form's fields; True if any matched."""
    matched = False
    for name, messages in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, *messages]
            matched = True
    return matched


def _refused(template: str, form: Any, exc: APIError) -> Any:
    headers = {"Retry-After": exc.retry_after} if exc.status == 429 and exc.retry_after else {}
    return render_template(template, form=form), exc.status, headers


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login() -> Any:
    """Log in with the API and keep the token in the session."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            result = api().login(form.email.data.strip(), form.password.data)
        except APIError as exc:
            if exc.status in (400, 401):
                flash("Wrong email or password.", "error")
            elif exc.status == 429:
                flash("Too many attempts, please wait a minute.", "error")
            else:
                flash(exc.message, "error")
            return _refused("login.html", form, exc)
        # A new session id on privilege change prevents session fixation.
        session.clear()
        current_app.session_interface.regenerate(session)
        session["access_token"] = result["access_token"]
        session["user"] = result["user"]
        flash(f"Welcome, {result['user'].get('name') or result['user'].get('email')}.", "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout() -> Any:
    """Revoke the token at the API, then forget it (the session is deleted from Redis)."""
    form = LogoutForm()
    if form.validate_on_submit():
        token = session.get("access_token")
        if token:
            try:
                api().logout(token)
            except (APIError, APIUnavailable) as exc:
                # The visitor is logged out here either way; the token expires on its own.
                log.warning("token not revoked at logout", extra={"error": str(exc)})
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("shop.product_list"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(register_limit, methods=["POST"])
def register() -> Any:
    """Create an account through the API, then ask the user to log in."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            api().register(form.email.data.strip(), form.password.data, form.name.data.strip())
        except APIError as exc:
            if exc.status == 429:
                flash("Too many registrations from here, please try again later.", "error")
            elif not _copy_api_field_errors(form, exc):
                flash(exc.message, "error")
            return _refused("register.html", form, exc)
        # The API answers the same whether or not the address already had an account (so the
        # form cannot be used to find out who has one); the message covers both.
        flash(
            "Thank you. You can now log in with this email and password. If the address "
            "already had an account, log in with that account's password.",
            "success",
        )
        return redirect(url_for("auth.login"))
    return render_template("register.html", form=form)
