"""Configuration of the frontend, read from the environment.

Secrets come from files named by ``*_FILE`` variables; a file always wins over the plain
variable. A missing or malformed setting raises :class:`ConfigError` whose message is one line
naming the setting, so start-up can stop with that line instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("production", "development", "testing")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# Only used when FLASK_ENV=testing: tests must not need a secret file.
_TESTING_SECRET_KEY = "testing-only-secret-key"  # noqa: S105


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names it."""


def _read_secret_file(var: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{var} points at {path!r}, which cannot be read ({exc.strerror})"
        ) from None
    if not value:
        raise ConfigError(f"{var} points at {path!r}, which is empty")
    return value


def read_secret(env: Mapping[str, str], *names: str) -> str | None:
    """Return the first secret found for ``names``, files first.

    Args:
        env: The environment to read.
        *names: Setting names in order of preference; for each ``NAME`` the file named by
            ``NAME_FILE`` is tried before any plain ``NAME`` variable.

    Returns:
        The secret, or None when none of the settings is given.

    Raises:
        ConfigError: A ``*_FILE`` variable names a file that is missing, unreadable or empty.
    """
    for name in names:
        path = env.get(f"{name}_FILE")
        if path:
            return _read_secret_file(f"{name}_FILE", path)
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, not {raw!r}")
    return value


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, not {raw!r}")
    return value


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the Flask configuration from the environment plus explicit overrides.

    Args:
        environ: The environment (defaults to ``os.environ``).
        overrides: Flask config keys that take precedence over the environment (used by tests
            and by embedding code); they are validated like the environment values.

    Returns:
        A dict of Flask config keys.

    Raises:
        ConfigError: A required setting is missing or a value is malformed.
    """
    env = dict(os.environ if environ is None else environ)
    overrides = dict(overrides or {})

    flask_env = str(overrides.get("FLASK_ENV") or env.get("FLASK_ENV") or "production").lower()
    if flask_env not in ENVIRONMENTS:
        raise ConfigError(f"FLASK_ENV must be one of {', '.join(ENVIRONMENTS)}, not {flask_env!r}")
    testing = flask_env == "testing"

    secret_key = read_secret(env, "FRONTEND_SECRET_KEY", "SECRET_KEY")
    config: dict[str, Any] = {
        "FLASK_ENV": flask_env,
        "TESTING": testing,
        "DEBUG": _bool(env, "DEBUG", False),
        "LOG_LEVEL": (env.get("LOG_LEVEL") or ("DEBUG" if flask_env == "development" else "INFO"))
        .strip()
        .upper(),
        # One JSON line per request; the deploy sets false, as the edge Nginx logs each one.
        "ACCESS_LOG": _bool(env, "ACCESS_LOG", True),
        "SECRET_KEY": secret_key,
        "API_URL": (env.get("API_URL") or "").strip(),
        "API_TIMEOUT_SECONDS": _positive_float(env, "API_TIMEOUT_SECONDS", 5.0),
        "API_CONNECT_TIMEOUT_SECONDS": _positive_float(env, "API_CONNECT_TIMEOUT_SECONDS", 2.0),
        "API_RETRIES": _non_negative_int(env, "API_RETRIES", 2),
        "API_RETRY_BACKOFF_SECONDS": _positive_float(env, "API_RETRY_BACKOFF_SECONDS", 0.2),
        "REDIS_URL": (env.get("REDIS_URL") or "").strip(),
        "REDIS_PASSWORD": read_secret(env, "REDIS_PASSWORD"),
        "PRODUCTS_PER_PAGE": _non_negative_int(env, "PRODUCTS_PER_PAGE", 12) or 12,
        # X-Forwarded-For/-Proto are believed only from these peers (the edge Nginx).
        "TRUSTED_PROXY_HOSTS": env.get("TRUSTED_PROXY_HOSTS", "127.0.0.1,::1"),
        # Every page lists the categories; one answer serves all pages for this long.
        "CATEGORIES_CACHE_SECONDS": _non_negative_int(env, "CATEGORIES_CACHE_SECONDS", 30),
        # Login and registration form posts, per visitor address (counters in REDIS_URL).
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN") or "10 per minute",
        "RATELIMIT_REGISTER": env.get("RATELIMIT_REGISTER") or "10 per hour",
        # The deploy serves the site over HTTPS; plain-HTTP development has to opt out.
        "SESSION_COOKIE_SECURE": _bool(env, "SESSION_COOKIE_SECURE", flask_env != "development"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "bf_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(
            minutes=_non_negative_int(env, "SESSION_LIFETIME_MINUTES", 120) or 120
        ),
        "WTF_CSRF_TIME_LIMIT": 3600,
        "MAX_CONTENT_LENGTH": 64 * 1024,
    }
    config.update(overrides)
    config["FLASK_ENV"] = flask_env

    if not config.get("SECRET_KEY"):
        if not testing:
            raise ConfigError(
                "SECRET_KEY is not set: give FRONTEND_SECRET_KEY_FILE or SECRET_KEY_FILE "
                "(a file holding the key)"
            )
        config["SECRET_KEY"] = _TESTING_SECRET_KEY
    for required in ("API_URL", "REDIS_URL"):
        if not config.get(required):
            raise ConfigError(f"{required} is not set")
    if not str(config["API_URL"]).startswith(("http://", "https://")):
        raise ConfigError(f"API_URL must start with http:// or https://, not {config['API_URL']!r}")
    if not str(config["REDIS_URL"]).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    config["API_URL"] = str(config["API_URL"]).rstrip("/")
    return config
