"""WTForms forms; Flask-WTF adds and checks the CSRF token on each of them."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Regexp

# A plausibility check only (no extra dependency); the API validates addresses for real.
_EMAIL = r"^[^@\s]+@[^@\s]+$"


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    submit = SubmitField("Log in")


class RegisterForm(FlaskForm):
    """A new account; the API has the final word on every rule."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        "Email",
        validators=[
            DataRequired(),
            Length(max=255),
            Regexp(_EMAIL, message="Not an email address."),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )
    submit = SubmitField("Create account")


class OrderForm(FlaskForm):
    """How many of one product to order."""

    quantity = IntegerField(
        "Quantity", default=1, validators=[DataRequired(), NumberRange(min=1, max=1000)]
    )
    submit = SubmitField("Place order")


class LogoutForm(FlaskForm):
    """Logging out changes state, so it is a POST with a CSRF token too."""

    submit = SubmitField("Log out")
