"""Login, logout and registration; the JWT is kept only in the server-side session."""

from __future__ import annotations

from typing import Any

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

from .api_client import APIError
from .forms import LoginForm, LogoutForm, RegisterForm
from .views import api

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing aid."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
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


@bp.route("/login", methods=["GET", "POST"])
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
            return render_template("login.html", form=form), exc.status
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
    """Forget the token (the session is deleted from Redis)."""
    form = LogoutForm()
    if form.validate_on_submit():
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("shop.product_list"))


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    """Create an account through the API, then ask the user to log in."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            api().register(form.email.data.strip(), form.password.data, form.name.data.strip())
        except APIError as exc:
            if exc.status == 409:
                form.email.errors = [*form.email.errors, "This email is already registered."]
            elif not _copy_api_field_errors(form, exc):
                flash(exc.message, "error")
            return render_template("register.html", form=form), exc.status
        flash("Account created. Please log in.", "success")
        return redirect(url_for("auth.login"))
    return render_template("register.html", form=form)
