"""Configuration from the environment, and the one-line start-up failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from frontend.config import ConfigError, load_config

BASE = {"API_URL": "http://api:8081", "REDIS_URL": "redis://redis:6379/0"}
APP_ROOT = Path(__file__).resolve().parents[2]


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="^SECRET_KEY is not set"):
        load_config({**BASE, "FLASK_ENV": "production"})


def test_testing_gets_a_default_secret_key_only_there():
    assert load_config({**BASE, "FLASK_ENV": "testing"})["SECRET_KEY"]
    with pytest.raises(ConfigError):
        load_config({**BASE, "FLASK_ENV": "development"})


@pytest.mark.parametrize("missing", ["API_URL", "REDIS_URL"])
def test_missing_required_setting_is_named(missing):
    env = {**BASE, "SECRET_KEY": "k" * 32}
    del env[missing]
    with pytest.raises(ConfigError, match=f"^{missing} is not set$"):
        load_config(env)


def test_secret_files_win_in_order(tmp_path):
    frontend_key = tmp_path / "frontend_secret_key"
    frontend_key.write_text("from-frontend-file\n")
    shared_key = tmp_path / "secret_key"
    shared_key.write_text("from-shared-file\n")
    env = {**BASE, "SECRET_KEY": "from-env", "SECRET_KEY_FILE": str(shared_key)}
    assert load_config(env)["SECRET_KEY"] == "from-shared-file"
    env["FRONTEND_SECRET_KEY_FILE"] = str(frontend_key)
    assert load_config(env)["SECRET_KEY"] == "from-frontend-file"


def test_redis_password_from_file(tmp_path):
    secret = tmp_path / "redis_password"
    secret.write_text("s3cret\n")
    env = {**BASE, "SECRET_KEY": "k", "REDIS_PASSWORD": "env", "REDIS_PASSWORD_FILE": str(secret)}
    assert load_config(env)["REDIS_PASSWORD"] == "s3cret"


def test_unreadable_secret_file_is_named(tmp_path):
    env = {**BASE, "SECRET_KEY_FILE": str(tmp_path / "missing")}
    with pytest.raises(ConfigError, match="^SECRET_KEY_FILE points at"):
        load_config(env)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLASK_ENV", "staging", "^FLASK_ENV must be one of"),
        ("API_TIMEOUT_SECONDS", "soon", "^API_TIMEOUT_SECONDS must be a number"),
        ("API_TIMEOUT_SECONDS", "0", "^API_TIMEOUT_SECONDS must be greater than 0"),
        ("API_RETRIES", "-1", "^API_RETRIES must not be negative"),
        ("DEBUG", "maybe", "^DEBUG must be true or false"),
        ("API_URL", "api:8081", "^API_URL must start with http"),
    ],
)
def test_malformed_values_are_named(name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config({**BASE, "SECRET_KEY": "k", name: value})


def test_values_are_parsed():
    env = {**BASE, "SECRET_KEY": "k", "API_URL": "http://api:8081/", "API_TIMEOUT_SECONDS": "3.5"}
    config = load_config(env)
    assert config["API_URL"] == "http://api:8081"
    assert config["API_TIMEOUT_SECONDS"] == 3.5
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_wsgi_start_up_fails_with_one_line(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(APP_ROOT),
        "FLASK_ENV": "production",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY_FILE": str(tmp_path / "absent"),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import frontend.wsgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("frontend: configuration error: SECRET_KEY_FILE points at")


def test_wsgi_start_up_names_missing_api_url(tmp_path):
    key = tmp_path / "key"
    key.write_text("k" * 32)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(APP_ROOT),
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "FRONTEND_SECRET_KEY_FILE": str(key),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import frontend.wsgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "frontend: configuration error: API_URL is not set"


def test_wsgi_leaves_no_thread_for_uwsgi_to_fork_over(tmp_path):
    # uWSGI forks the workers right after this import; a thread alive then (the limiter's
    # in-memory fallback timer) could hold the GIL in every worker forever.
    key = tmp_path / "key"
    key.write_text("k" * 32)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(APP_ROOT),
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "API_URL": "http://api:8081",
        "FRONTEND_SECRET_KEY_FILE": str(key),
    }
    code = (
        "import threading, frontend.wsgi as w; print(threading.active_count());"
        "threading.Timer(0.3, lambda: None).start(); w.join_helper_threads();"
        "print(threading.active_count())"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]
