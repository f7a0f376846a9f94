"""Configuration from environment variables, with secrets read from ``*_FILE`` files.

Every setting ``NAME`` may also be given as ``NAME_FILE``, the path of a file holding the value;
the file wins over the variable. That is how secrets reach the container (``/run/secrets/...``)
without ever appearing in the environment, the command line or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

ENVIRONMENTS = ("production", "development", "testing")

# Only used when FLASK_ENV=testing: tests need no secret files, production never gets a default.
_TESTING_SECRET = "testing-only-secret-key-not-for-production"  # noqa: S105


class ConfigError(Exception):
    """A required setting is missing or a setting has an invalid value."""


class _Source:
    """Looks settings up in overrides first, then ``NAME_FILE``, then ``NAME``."""

    def __init__(self, environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self.environ = environ
        self.overrides = overrides

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the raw value of ``name`` or ``default`` when unset or empty.

        Args:
            name: The setting name, e.g. ``SECRET_KEY``.
            default: Value returned when the setting is not given.

        Returns:
            The value, from the override, the file named by ``NAME_FILE`` or ``NAME``.

        Raises:
            ConfigError: ``NAME_FILE`` names a file that cannot be read.
        """
        if name in self.overrides and self.overrides[name] is not None:
            return str(self.overrides[name])
        file_var = f"{name}_FILE"
        path = self.environ.get(file_var)
        if path:
            try:
                # Secret files usually end with a newline that is not part of the secret.
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"{file_var}: cannot read {path}: {exc.strerror}") from None
            if value:
                return value
        value = self.environ.get(name)
        return value if value not in (None, "") else default

    def require(self, name: str) -> str:
        """Return the value of ``name``.

        Args:
            name: The setting name.

        Returns:
            The value.

        Raises:
            ConfigError: The setting is missing.
        """
        value = self.get(name)
        if value is None:
            raise ConfigError(f"{name} is required (set {name} or {name}_FILE)")
        return value

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        """Return ``name`` as an integer.

        Args:
            name: The setting name.
            default: Value when unset.
            minimum: Smallest accepted value.

        Returns:
            The integer value.

        Raises:
            ConfigError: The value is not an integer or is below ``minimum``.
        """
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """Return ``name`` as a boolean (1/true/yes/on or 0/false/no/off).

        Args:
            name: The setting name.
            default: Value when unset.

        Returns:
            The boolean value.

        Raises:
            ConfigError: The value is not a recognised boolean.
        """
        raw = self.get(name)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _database_url(src: _Source) -> str:
    url = src.get("DATABASE_URL")
    if url:
        return url
    host = src.get("POSTGRES_HOST")
    if host is None:
        raise ConfigError("DATABASE_URL or POSTGRES_HOST is required")
    port = src.integer("POSTGRES_PORT", 5432, minimum=1)
    name = src.require("POSTGRES_DB")
    user = src.require("POSTGRES_USER")
    password = src.require("POSTGRES_PASSWORD")
    return (
        f"postgresql+psycopg2://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@{host}:{port}/{quote(name, safe='')}"
    )


def _session_timeouts(src: _Source) -> str:
    """Return the libpq ``options`` that bound every statement and lock wait of the app.

    A slow query or a long lock wait then ends as a 504/503 envelope, well before uWSGI's
    harakiri (30 s) kills the worker with a 502. 0 disables a limit (PostgreSQL's meaning).

    Args:
        src: The settings.

    Returns:
        ``-c statement_timeout=... -c lock_timeout=...`` (milliseconds).
    """
    statement = src.integer("DB_STATEMENT_TIMEOUT_MS", 10000)
    lock = src.integer("DB_LOCK_TIMEOUT_MS", 5000)
    return f"-c statement_timeout={statement} -c lock_timeout={lock}"


def redis_url_with_password(url: str, password: str | None) -> str:
    """Insert ``password`` into a ``redis://`` URL that has none.

    Args:
        url: A Redis URL such as ``redis://redis:6379/0``.
        password: The password, or None to leave the URL unchanged.

    Returns:
        The URL with the password in its authority part.
    """
    if not password:
        return url
    parts = urlsplit(url)
    if parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the Flask configuration mapping.

    Args:
        environ: Environment to read (defaults to ``os.environ``).
        overrides: Values that win over the environment (settings by their env name, or any
            Flask config key, which is passed through unchanged).

    Returns:
        The configuration for ``app.config``.

    Raises:
        ConfigError: A required setting is missing or a value is invalid.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    src = _Source(environ, overrides)

    env = (src.get("FLASK_ENV", "production") or "production").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"FLASK_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    testing = env == "testing"

    def secret(name: str) -> str:
        return src.get(name, _TESTING_SECRET) if testing else src.require(name)

    log_level = (src.get("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be a logging level name, got {log_level!r}")

    redis_password = src.get("REDIS_PASSWORD")
    redis_url = redis_url_with_password(src.require("REDIS_URL"), redis_password)
    # The response cache may live on its own Redis (maxmemory + allkeys-lru) so that filling
    # it can never evict a session or a rate counter from REDIS_URL's (noeviction).
    cache_redis_url = redis_url_with_password(
        src.get("CACHE_REDIS_URL") or src.require("REDIS_URL"),
        src.get("CACHE_REDIS_PASSWORD") or redis_password,
    )
    login_limit = src.get("RATELIMIT_LOGIN", "10 per minute")
    register_limit = src.get("RATELIMIT_REGISTER", "10 per hour")
    config: dict[str, Any] = {
        "ENV_NAME": env,
        "TESTING": testing,
        "DEBUG": src.boolean("DEBUG", False),
        "LOG_LEVEL": log_level,
        "SECRET_KEY": secret("SECRET_KEY"),
        "JWT_SECRET_KEY": secret("JWT_SECRET_KEY"),
        "JWT_ACCESS_TOKEN_EXPIRES": src.integer("JWT_ACCESS_TOKEN_EXPIRES", 3600, minimum=60),
        "SQLALCHEMY_DATABASE_URI": _database_url(src),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # No pre-ping (one more round trip per request): a connection the server closed is
            # noticed on checkout without a query (api.extensions), and old ones are replaced.
            "pool_pre_ping": False,
            "pool_recycle": 1800,
            "pool_size": 5,
            "max_overflow": 10,
            "pool_timeout": 5,
            # A database host that is lost sends no reset: TCP keepalives and a user timeout end
            # a connection to it within about 20 s (a request on it fails, a new one is opened)
            # instead of at the kernel's retransmission limit, long after uWSGI's harakiri.
            "connect_args": {
                "connect_timeout": 3,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 3,
                "keepalives_count": 3,
                "tcp_user_timeout": 10000,
                "options": _session_timeouts(src),
            },
        },
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "REDIS_URL": redis_url,
        "CACHE_REDIS_URL": cache_redis_url,
        "TRUSTED_PROXY_HOSTS": src.get("TRUSTED_PROXY_HOSTS", "127.0.0.1,::1"),
        "ACCESS_LOG": src.boolean("ACCESS_LOG", True),
        "RATELIMIT_ENABLED": src.boolean("RATELIMIT_ENABLED", True),
        "RATELIMIT_DEFAULT": src.get("RATELIMIT_DEFAULT", "300 per minute"),
        "RATELIMIT_LOGIN": login_limit,
        "RATELIMIT_REGISTER": register_limit,
        # Per account (the normalised email of the body), whatever address the tries come from.
        "RATELIMIT_LOGIN_ACCOUNT": src.get("RATELIMIT_LOGIN_ACCOUNT", login_limit),
        "RATELIMIT_REGISTER_ACCOUNT": src.get("RATELIMIT_REGISTER_ACCOUNT", register_limit),
        "RATELIMIT_STORAGE_URI": redis_url,
        # One Redis round trip per limit and request (api.ratelimit), headers included.
        "RATELIMIT_STRATEGY": "fixed-window-one-trip",
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "api-rl",
        "CACHE_TTL_SECONDS": src.integer("CACHE_TTL_SECONDS", 60),
        # Streaming replicas the deploy runs (0 or 1): readiness reports their state against it.
        "POSTGRES_REPLICAS_EXPECTED": src.integer("POSTGRES_REPLICAS_EXPECTED", 0),
        "MAX_CONTENT_LENGTH": src.integer("MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1),
        "ADMIN_EMAIL": src.get("ADMIN_EMAIL"),
        "API_TITLE": "Backend Framework API",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }
    known = {
        "FLASK_ENV",
        "DEBUG",
        "LOG_LEVEL",
        "SECRET_KEY",
        "JWT_SECRET_KEY",
        "DATABASE_URL",
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "CACHE_REDIS_URL",
        "CACHE_REDIS_PASSWORD",
        "TRUSTED_PROXY_HOSTS",
        "ACCESS_LOG",
        "RATELIMIT_DEFAULT",
        "RATELIMIT_LOGIN",
        "RATELIMIT_REGISTER",
        "RATELIMIT_LOGIN_ACCOUNT",
        "RATELIMIT_REGISTER_ACCOUNT",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_LOCK_TIMEOUT_MS",
        "RATELIMIT_ENABLED",
        "CACHE_TTL_SECONDS",
        "POSTGRES_REPLICAS_EXPECTED",
        "MAX_CONTENT_LENGTH",
        "ADMIN_EMAIL",
        "JWT_ACCESS_TOKEN_EXPIRES",
    }
    # Flask config keys given as overrides (e.g. in tests) pass through unchanged.
    config.update({k: v for k, v in overrides.items() if k not in known})
    return config
