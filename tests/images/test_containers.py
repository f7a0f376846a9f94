"""Each image starts on its own, becomes healthy, runs unprivileged and honours its secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import pid1_uid, wait_healthy

APP_ENV = {
    "api": {
        "FLASK_ENV": "production",
        "SECRET_KEY_FILE": "/run/secrets/secret_key",
        "JWT_SECRET_KEY_FILE": "/run/secrets/jwt_secret_key",
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "5432",
        "POSTGRES_DB": "shop",
        "POSTGRES_USER": "shop",
        "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password",
        "REDIS_URL": "redis://redis:6379/0",
        "REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
        "ADMIN_EMAIL": "admin@example.com",
    },
    "frontend": {
        "FLASK_ENV": "production",
        "FRONTEND_SECRET_KEY_FILE": "/run/secrets/frontend_secret_key",
        "API_URL": "http://api:8081",
        "REDIS_URL": "redis://redis:6379/1",
        "REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
    },
}


@pytest.mark.parametrize("service", ["api", "frontend"])
def test_app_image_is_healthy_unprivileged(refs, start, service: str) -> None:
    container = start(refs[service], service, environment=APP_ENV[service])
    wait_healthy(container, timeout=120)
    code, out = container.exec_run(["id", "-u"])
    assert code == 0 and out.decode().strip() == "10001"
    assert pid1_uid(container) == 10001
    code, out = container.exec_run(["python3", "-c", f"import {service}"], workdir="/tmp")
    assert code == 0, out.decode()


def test_nginx_is_healthy_unprivileged(refs, start) -> None:
    container = start(refs["nginx"], "nginx", read_only=True, tmpfs={"/tmp": ""})
    wait_healthy(container, timeout=60)
    assert pid1_uid(container) == 101
    code, out = container.exec_run(["id", "-u"])
    assert out.decode().strip() == "101"


def test_postgres_initialises_from_secret_files(refs, start, tmp_path: Path, secret_dir) -> None:
    initdb = tmp_path / "initdb"
    initdb.mkdir(mode=0o755)
    (initdb / "10-schema.sql").write_text("CREATE TABLE seeded (id int);\n")
    (initdb / "10-schema.sql").chmod(0o644)
    container = start(
        refs["postgres"],
        "postgres",
        environment={
            "POSTGRES_USER": "shop",
            "POSTGRES_DB": "shop",
            "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password",
        },
        volumes={str(initdb): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}},
    )
    wait_healthy(container, timeout=120)
    assert pid1_uid(container) == 999
    password = (secret_dir / "postgres_password").read_text().strip()

    def psql(secret: str, sql: str) -> tuple[int, str]:
        # TCP to the container's own address, so pg_hba's scram-sha-256 rule applies; the
        # password lives only in the exec's environment.
        code, out = container.exec_run(
            ["psql", "-h", "127.0.0.1", "-U", "shop", "-d", "shop", "-XAtc", sql],
            environment={"PGPASSWORD": secret, "PGCONNECT_TIMEOUT": "5"},
            user="postgres",
        )
        return code, out.decode()

    code, out = psql(password, "SELECT current_user || ' ' || count(*) FROM seeded")
    assert code == 0, out
    assert out.strip() == "shop 0"
    code, out = psql(password + "wrong", "SELECT 1")
    assert code != 0
    assert "password authentication failed" in out
    code, out = psql(password, "SHOW password_encryption")
    assert out.strip() == "scram-sha-256"
    environ = container.exec_run(["cat", "/proc/1/environ"]).output
    assert password.encode() not in environ
    assert password.encode() not in container.exec_run(["cat", "/proc/1/cmdline"]).output


def test_postgres_refuses_to_initialise_without_a_password(refs, start) -> None:
    container = start(refs["postgres"], "postgres-nopw", environment={"POSTGRES_USER": "shop"})
    assert container.wait(timeout=60)["StatusCode"] != 0
    assert b"POSTGRES_PASSWORD_FILE" in container.logs()


def test_redis_requires_the_password_from_its_file(refs, start, secret_dir) -> None:
    container = start(
        refs["redis"],
        "redis",
        environment={"REDIS_PASSWORD_FILE": "/run/secrets/redis_password"},
        read_only=True,
        tmpfs={"/run/redis": "uid=999,gid=999,mode=0700"},
    )
    wait_healthy(container, timeout=60)
    assert pid1_uid(container) == 999
    password = (secret_dir / "redis_password").read_text().strip()
    code, out = container.exec_run(["redis-cli", "-h", "127.0.0.1", "ping"])
    assert b"NOAUTH" in out
    code, out = container.exec_run(
        ["redis-cli", "-h", "127.0.0.1", "ping"], environment={"REDISCLI_AUTH": password + "x"}
    )
    assert b"PONG" not in out
    code, out = container.exec_run(
        ["redis-cli", "-h", "127.0.0.1", "ping"], environment={"REDISCLI_AUTH": password}
    )
    assert out.strip() == b"PONG"
    assert password.encode() not in container.exec_run(["cat", "/proc/1/cmdline"]).output
    assert password.encode() not in container.exec_run(["cat", "/proc/1/environ"]).output
    code, out = container.exec_run(["stat", "-c", "%a %u", "/run/redis/redis.conf"])
    assert out.decode().split() == ["600", "999"]


def test_pgadmin_is_healthy_unprivileged(refs, start) -> None:
    container = start(
        refs["pgadmin"],
        "pgadmin",
        environment={
            "PGADMIN_DEFAULT_EMAIL": "admin@example.com",
            "PGADMIN_DEFAULT_PASSWORD_FILE": "/run/secrets/pgadmin_password",
        },
    )
    wait_healthy(container, timeout=240)
    assert pid1_uid(container) == 5050
    code, out = container.exec_run(["ls", "/var/lib/pgadmin"])
    assert b"pgadmin4.db" in out
