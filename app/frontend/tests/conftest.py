"""Fixtures of the frontend tests: real Redis, real sockets, real HTTP."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from frontend import create_app
from frontend.tests.scripted_server import ScriptedServer

# Settings a developer's shell or CI might export; each test starts from a clean slate.
_ENV_VARS = (
    "FLASK_ENV",
    "DEBUG",
    "LOG_LEVEL",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "FRONTEND_SECRET_KEY",
    "FRONTEND_SECRET_KEY_FILE",
    "API_URL",
    "API_TIMEOUT_SECONDS",
    "API_CONNECT_TIMEOUT_SECONDS",
    "API_RETRIES",
    "API_RETRY_BACKOFF_SECONDS",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "REDIS_PASSWORD_FILE",
    "SESSION_COOKIE_SECURE",
    "TRUSTED_PROXY_HOSTS",
    "CATEGORIES_CACHE_SECONDS",
    "RATELIMIT_ENABLED",
    "RATELIMIT_LOGIN",
    "RATELIMIT_REGISTER",
)

_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = _CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def dead_api_url() -> str:
    """An API URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def scripted_api() -> Iterator[tuple[ScriptedServer, str]]:
    """A scripted HTTP server on a real socket and its base URL."""
    server = ScriptedServer()
    url = server.start()
    try:
        yield server, url
    finally:
        server.stop()


@pytest.fixture
def make_app(redis_server: Any) -> Callable[..., Flask]:
    """Build a frontend app on the real Redis server; keyword arguments override config."""

    def factory(**overrides: Any) -> Flask:
        config = {
            "FLASK_ENV": "testing",
            "API_URL": "http://127.0.0.1:9",
            "REDIS_URL": redis_server.url(1),
            "API_RETRIES": 2,
            "API_RETRY_BACKOFF_SECONDS": 0.01,
            "API_TIMEOUT_SECONDS": 2.0,
            # Counters outlive a test in the shared Redis: tests of the limits set their own.
            "RATELIMIT_LOGIN": "100000 per minute",
            "RATELIMIT_REGISTER": "100000 per minute",
        }
        config.update(overrides)
        return create_app(config)

    return factory
