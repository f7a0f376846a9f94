# Running docker exec is this module's job (S603: argv lists, never a shell).
# ruff: noqa: S603
"""Talking to PostgreSQL inside its container: psql, pg_dump and pg_restore over `docker exec`.

No password is used anywhere: they run as the postgres OS user over the local socket, which the
bf/postgres image trusts. Also here: the session settings that make row text the same in every
session, the catalog queries a manifest is built from, and SQL quoting.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from .common import BackupError, run

# Row text must not depend on the session: the same rows give the same checksum everywhere.
SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET search_path = '';"
)

TABLES_SQL = (
    "SELECT coalesce(json_agg(format('%I.%I', schemaname, tablename) "
    "ORDER BY schemaname, tablename), '[]') FROM pg_catalog.pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema');"
)


class Postgres:
    """psql/pg_dump/pg_restore inside a PostgreSQL container, over its trusted local socket."""

    def __init__(self, docker: str, container: str, user: str) -> None:
        self.docker = docker
        self.container = container
        self.user = user

    def exec_argv(self, *argv: str, stdin: bool = False) -> list[str]:
        """Return the `docker exec` argv running argv as the postgres OS user."""
        return [
            self.docker,
            "exec",
            *(["-i"] if stdin else []),
            "-u",
            "postgres",
            self.container,
            *argv,
        ]

    def psql_argv(self, database: str) -> list[str]:
        """Return the argv of a quiet, unaligned psql that stops at the first error."""
        return self.exec_argv(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "--no-password",
            "-U",
            self.user,
            "-d",
            database,
            stdin=True,
        )

    def query(self, database: str, sql: str) -> str:
        """Run SQL (as one psql script) and return its output."""
        return run(self.psql_argv(database), input=sql).stdout

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the server answers on TCP (the image's sign that initialisation ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                self.exec_argv("pg_isready", "-q", "-h", "127.0.0.1", "-U", self.user),
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.5)
        raise BackupError(f"PostgreSQL in {self.container} did not become ready in {timeout:.0f}s")


class Session:
    """One long psql session driven line by line (it holds the snapshot pg_dump shares)."""

    def __init__(self, pg: Postgres, database: str) -> None:
        self.proc = subprocess.Popen(
            pg.psql_argv(database),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, sql: str) -> str:
        """Send statements whose last one returns exactly one row and column; return it."""
        if self.proc.stdin is None or self.proc.stdout is None:
            raise BackupError("psql session has no pipes")
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BackupError(f"psql session ended: {self.close()}")
        return line.rstrip("\n")

    def close(self, sql: str = "") -> str:
        """Send the last statements, end the session and return its stderr."""
        try:
            _, err = self.proc.communicate(sql + "\n\\q\n", timeout=60)
        except BrokenPipeError:
            _, err = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise BackupError(f"psql failed: {err.strip()[-800:]}")
        return err


def alembic_sql() -> str:
    """SQL returning the Alembic revision(s), or an empty line when there is no such table."""
    return (
        "SELECT CASE WHEN to_regclass('public.alembic_version') IS NULL THEN '' ELSE "
        "(xpath('/row/v/text()', query_to_xml('SELECT string_agg(version_num, '','' "
        "ORDER BY version_num) AS v FROM public.alembic_version', false, true, '')))[1]::text "
        "END;"
    )


def find_container(cfg: dict[str, Any], service: str) -> str:
    """Return the id of the running task container of a service of the stack on this host."""
    out = run(
        [
            cfg["docker"],
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.swarm.service.name={cfg['stack']}_{service}",
            "--filter",
            "status=running",
        ]
    ).stdout.split()
    if len(out) != 1:
        raise BackupError(
            f"expected one running '{service}' task of the stack '{cfg['stack']}' on this "
            f"host, found {len(out)}"
        )
    return out[0]


def ident(name: str) -> str:
    """Quote a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote a PostgreSQL string literal."""
    return "'" + value.replace("'", "''") + "'"
