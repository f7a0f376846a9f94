"""Pytest plugin: real PostgreSQL 15 and Redis servers for the application tests.

The servers are Debian's own binaries (``postgresql-15`` and ``redis-server``, installed by
``make test-deps``), started in a temporary directory on free loopback ports, once per test
session. They are the real thing on purpose: the row-lock test and the readiness tests would
pass against a stand-in and prove nothing.

Fixtures:
    postgres_server: a :class:`PostgresServer` (``.url(db)``, ``.create_database()``,
        ``.stop()``, ``.start()``).
    redis_server: a :class:`RedisServer` (``.url(db)``, ``.stop()``, ``.start()``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root (CI runs as root): drop to the postgres account."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer:
    """A throwaway PostgreSQL cluster listening on 127.0.0.1 with password authentication."""

    user = "postgres"
    password = "test-only-password"  # noqa: S105 - a throwaway test cluster on loopback

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.port = _free_port()
        self.log = base / "postgres.log"
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"{PG_BIN}/initdb not found: run 'make test-deps' first")
        pwfile = base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            for path in (base, pwfile):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        subprocess.run(
            _as_postgres_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            _as_postgres_user(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-o",
                    f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c full_page_writes=off -c max_connections=200",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are cut, as in a real outage)."""
        subprocess.run(
            _as_postgres_user(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL with psql over TCP and return its unaligned output."""
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return out.stdout

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its name."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def url(self, db: str, driver: str = "postgresql+psycopg2") -> str:
        """Return an SQLAlchemy URL for database ``db``."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"


class RedisServer:
    """A throwaway Redis server on 127.0.0.1 (no persistence).

    ``extra_args`` are added to the command line, e.g. ``["--maxmemory", "2mb",
    "--maxmemory-policy", "allkeys-lru"]`` for a cache instance.
    """

    def __init__(self, base: Path, extra_args: list[str] | None = None) -> None:
        self.base = base
        self.port = _free_port()
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        if not Path(REDIS_SERVER).exists():
            raise RuntimeError(f"{REDIS_SERVER} not found: run 'make test-deps' first")
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
                "--daemonize",
                "no",
                "--logfile",
                str(self.base / "redis.log"),
                *self.extra_args,
            ],
        )
        _wait_port(self.port)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def url(self, db: int = 0) -> str:
        """Return a ``redis://`` URL for logical database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 15 server for the whole test session."""
    base = Path(tempfile.mkdtemp(prefix="bf-pg-"))
    os.chmod(base, 0o755)  # noqa: S103 - the postgres account must reach its data dir
    server = PostgresServer(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis server for the whole test session."""
    base = Path(tempfile.mkdtemp(prefix="bf-redis-"))
    server = RedisServer(base)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
