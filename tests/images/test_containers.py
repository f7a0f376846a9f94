"""Each image starts on its own, becomes healthy, runs unprivileged and honours its secrets."""

from __future__ import annotations

import time
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


def _psql(container, sql: str, *more: str) -> tuple[int, str]:
    """psql as postgres over the container's socket (trusted locally), on the shop database.

    The lines go through stdin, as a script: psql expands its variables there, not in -c.
    """
    lines = [x if x.startswith("\\") or x.endswith(";") else x + ";" for x in (sql, *more)]
    script = 'printf "%s\\n" "$@" | psql -X -At -v ON_ERROR_STOP=1 -U shop -d shop'
    code, out = container.exec_run(["sh", "-c", script, "psql", *lines], user="postgres")
    return code, out.decode()


def test_postgres_replica_copies_the_primary_and_streams(refs, start, docker_client) -> None:
    common = {
        "POSTGRES_USER": "shop",
        "POSTGRES_DB": "shop",
        "BF_REPLICATION_USER": "replicator",
    }
    primary = start(
        refs["postgres"],
        "pg-primary",
        environment={
            **common,
            "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password",
            "BF_PG_ROLE": "primary",
        },
    )
    wait_healthy(primary, timeout=120)
    # As the deploy does it (roles/bf_deploy/tasks/replication.yml): the password from its file.
    code, out = _psql(
        primary,
        "\\set rpw `cat /run/secrets/postgres_replication_password`",
        "CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'rpw'",
        "SELECT pg_create_physical_replication_slot('bf_replica')",
        "CREATE TABLE seen (id int PRIMARY KEY); INSERT INTO seen VALUES (1)",
    )
    assert code == 0, out
    conninfo = (
        f"host={primary.name} port=5432 user=replicator passfile=/tmp/bf-replication.pgpass"
        " application_name=bf_replica"
    )
    replica = start(
        refs["postgres"],
        "pg-replica",
        environment={
            **common,
            "BF_PG_ROLE": "replica",
            "BF_PG_PRIMARY_HOST": primary.name,
            "BF_REPLICATION_SLOT": "bf_replica",
            "BF_REPLICATION_PASSWORD_FILE": "/run/secrets/postgres_replication_password",
        },
        command=["postgres", "-c", "hot_standby_feedback=on", "-c", "primary_slot_name=bf_replica",
                 "-c", f"primary_conninfo={conninfo}"],
    )  # fmt: skip
    wait_healthy(replica, timeout=180)
    assert pid1_uid(replica) == 999
    assert _psql(replica, "SELECT pg_is_in_recovery(), count(*) FROM seen") == (0, "t|1\n")
    assert _psql(primary, "INSERT INTO seen VALUES (2)")[0] == 0
    deadline = time.monotonic() + 60
    while _psql(replica, "SELECT count(*) FROM seen")[1].strip() != "2":
        assert time.monotonic() < deadline, replica.logs()[-2000:]
        time.sleep(0.5)
    code, out = _psql(
        primary,
        "SELECT application_name, state FROM pg_stat_replication",
    )
    assert out.strip() == "bf_replica|streaming", out
    # The standby refuses writes; the password is on no command line and in no environment.
    assert _psql(replica, "INSERT INTO seen VALUES (3)")[0] != 0
    secret = replica.exec_run(["cat", "/run/secrets/postgres_replication_password"]).output.strip()
    assert secret
    for what in ("environ", "cmdline"):
        seen = replica.exec_run(["sh", "-c", f"cat /proc/[0-9]*/{what}"], user="postgres").output
        assert secret not in seen, what
    # The standby's data never starts as a primary (an inventory swapped without a failover).
    replica.stop(timeout=30)
    wrong = start(
        refs["postgres"],
        "pg-swapped",
        environment={**common, "BF_PG_ROLE": "primary"},
        volumes_from=[replica.id],
    )
    assert wrong.wait(timeout=60)["StatusCode"] == 78
    assert b"holds a standby" in wrong.logs()
    # A fenced primary never starts again.
    fence = "echo fenced by the test > /var/lib/postgresql/data/bf.fenced"
    code, out = primary.exec_run(["sh", "-c", fence], user="postgres")
    assert code == 0, out
    primary.restart(timeout=30)
    assert primary.wait(timeout=60)["StatusCode"] == 78
    assert b"fenced by the test" in primary.logs()


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
