import os
import subprocess
import sys
from pathlib import Path

import pytest
from api.config import ConfigError, load_config

BASE = {"DATABASE_URL": "postgresql://u:p@db/x", "REDIS_URL": "redis://redis:6379/0"}
APP_DIR = Path(__file__).resolve().parents[2]


def test_missing_secret_key_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"^SECRET_KEY is required"):
        load_config({**BASE, "FLASK_ENV": "production", "JWT_SECRET_KEY": "j"})


def test_testing_gets_a_default_secret_but_production_never():
    assert load_config({**BASE, "FLASK_ENV": "testing"})["SECRET_KEY"]
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({**BASE, "FLASK_ENV": "development"})


def test_file_wins_over_variable(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-file\n")
    cfg = load_config(
        {**BASE, "SECRET_KEY": "from-env", "SECRET_KEY_FILE": str(secret), "JWT_SECRET_KEY": "j"}
    )
    assert cfg["SECRET_KEY"] == "from-file"
    with pytest.raises(ConfigError, match="SECRET_KEY_FILE: cannot read"):
        load_config({**BASE, "SECRET_KEY_FILE": str(tmp_path / "missing"), "JWT_SECRET_KEY": "j"})


def test_postgres_parts_and_redis_password(tmp_path):
    pw = tmp_path / "pg"
    pw.write_text("p@ss/word\n")
    rpw = tmp_path / "redis"
    rpw.write_text("r:pw\n")
    env = {
        "FLASK_ENV": "testing",
        "POSTGRES_HOST": "postgres",
        "POSTGRES_DB": "app",
        "POSTGRES_USER": "app",
        "POSTGRES_PASSWORD_FILE": str(pw),
        "REDIS_URL": "redis://redis:6379/2",
        "REDIS_PASSWORD_FILE": str(rpw),
    }
    cfg = load_config(env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg2://app:p%40ss%2Fword@postgres:5432/app"
    )
    assert cfg["REDIS_URL"] == "redis://:r%3Apw@redis:6379/2"
    assert cfg["RATELIMIT_STORAGE_URI"] == cfg["REDIS_URL"]
    with pytest.raises(ConfigError, match="^POSTGRES_DB is required"):
        load_config({**env, "POSTGRES_DB": ""})
    with pytest.raises(ConfigError, match="^DATABASE_URL or POSTGRES_HOST is required"):
        load_config({"FLASK_ENV": "testing", "REDIS_URL": "redis://r"})
    with pytest.raises(ConfigError, match="^REDIS_URL is required"):
        load_config({"FLASK_ENV": "testing", "DATABASE_URL": "postgresql://x"})
    with pytest.raises(ConfigError, match="CACHE_TTL_SECONDS must be an integer"):
        load_config({**env, "CACHE_TTL_SECONDS": "soon"})


def test_wsgi_prints_one_line_and_exits_1_without_secret():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_FILE") and k not in ("SECRET_KEY", "JWT_SECRET_KEY", "FLASK_ENV")
    }
    env.update(BASE, PYTHONPATH=str(APP_DIR), FLASK_ENV="production")
    proc = subprocess.run(
        [sys.executable, "-c", "import api.wsgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "api: configuration error: SECRET_KEY is required (set SECRET_KEY or SECRET_KEY_FILE)"
    ]
    assert "Traceback" not in proc.stderr


def test_statement_and_lock_timeouts_default_and_env():
    testing = {**BASE, "FLASK_ENV": "testing"}
    options = load_config(testing)["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    assert options == "-c statement_timeout=10000 -c lock_timeout=5000"
    env = {**testing, "DB_STATEMENT_TIMEOUT_MS": "2500", "DB_LOCK_TIMEOUT_MS": "0"}
    options = load_config(env)["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    assert options == "-c statement_timeout=2500 -c lock_timeout=0"
    with pytest.raises(ConfigError, match="DB_STATEMENT_TIMEOUT_MS must be an integer"):
        load_config({**testing, "DB_STATEMENT_TIMEOUT_MS": "10s"})
    with pytest.raises(ConfigError, match="DB_LOCK_TIMEOUT_MS must be >= 0"):
        load_config({**testing, "DB_LOCK_TIMEOUT_MS": "-1"})


def test_wsgi_leaves_no_thread_for_uwsgi_to_fork_over():
    # uWSGI forks the workers right after this import; a thread alive then (the limiter's
    # in-memory fallback timer) could hold the GIL in every worker forever.
    env = {k: v for k, v in os.environ.items() if k != "FLASK_ENV"}
    env.update(BASE, PYTHONPATH=str(APP_DIR), FLASK_ENV="production", SECRET_KEY="s" * 32)
    env.update(JWT_SECRET_KEY="j" * 32)
    code = (
        "import threading, api.wsgi as w; print(threading.active_count());"
        "threading.Timer(0.3, lambda: None).start(); w.join_helper_threads();"
        "print(threading.active_count())"
    )
    proc = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1"]


def test_database_connections_end_when_their_host_is_lost(app):
    # A failover leaves pooled connections to a host that answers nothing: the client's own
    # keepalives and user timeout (in the libpq parameters of a real connection) end them.
    from api.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        params = conn.connection.dbapi_connection.info.dsn_parameters
    assert params["keepalives"] == "1"
    assert params["keepalives_idle"] == "10"
    assert params["keepalives_interval"] == "3"
    assert params["keepalives_count"] == "3"
    assert params["tcp_user_timeout"] == "10000"
