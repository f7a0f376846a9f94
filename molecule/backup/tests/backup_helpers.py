"""The backup scenario's stack as the tests drive it: SQL through the PostgreSQL container's trusted
socket, the playbooks run against the scenario's own inventory, the shipped script run as the
scheduled job runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import Scenario

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "roles" / "bf_backup" / "files" / "bf_backup.py"
APP_TABLES = ("users", "categories", "products", "orders", "order_items")


def sh(*argv: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command (argv, never a shell); on failure show the end of its output."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # noqa: S603
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
            f"\n{proc.stderr[-3000:]}"
        )
    return proc


@dataclass(frozen=True)
class BackupStack:
    """The converged scenario stack and what the backup tests need of it."""

    scenario: Scenario
    database: str
    db_user: str
    environment: str
    log_file: Path

    @property
    def project(self) -> str:
        return self.scenario.project

    @property
    def backup_dir(self) -> Path:
        return self.scenario.stack_dir / "backups"

    @property
    def maintenance_flag(self) -> Path:
        return self.scenario.stack_dir / "maintenance" / "on"

    @classmethod
    def of(cls, host: Any, scenario: Scenario) -> BackupStack:
        """The scenario's stack, with the names the converge gave its database and backups."""
        variables = host.ansible.get_variables()
        return cls(
            scenario=scenario,
            database=variables["bf_postgres_db"],
            db_user=variables["bf_postgres_user"],
            environment=variables["bf_environment"],
            log_file=Path(variables["bf_backup_log_file"]),
        )

    def backups(self) -> list[str]:
        """Complete backups in the backup dir, oldest first (hidden names are in progress)."""
        return sorted(
            p.name for p in self.backup_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def task(self, service: str) -> str:
        """The running task container of a service (one per service on this one-node swarm)."""
        ids = sh(
            "docker", "ps", "--quiet", "--filter",
            f"label=com.docker.swarm.service.name={self.project}_{service}",
        ).stdout.split()  # fmt: skip
        assert len(ids) == 1, f"{len(ids)} running tasks of {service}"
        return ids[0]

    def tasks(self) -> list[str]:
        """The ids of every running task container of the stack."""
        return sorted(
            sh(
                "docker", "ps", "--quiet", "--filter",
                f"label=com.docker.stack.namespace={self.project}",
            ).stdout.split()
        )  # fmt: skip

    def exec(self, service: str, *argv: str, user: str | None = None) -> str:
        """Run argv in the service's task; return its stdout."""
        who = ["-u", user] if user else []
        return sh("docker", "exec", "-i", *who, self.task(service), *argv).stdout

    def psql(self, sql: str, db: str | None = None) -> str:
        """Run SQL as the database owner over the task's local socket (no password)."""
        return self.exec(
            "postgres", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-U", self.db_user, "-d", db or self.database, "-c", sql, user="postgres",
        ).strip()  # fmt: skip

    def data_checksum(self) -> str:
        """One md5 per app table over its rows in primary-key order, with the row count."""
        return "\n".join(
            self.psql(
                f"SELECT '{table}:' || count(*) || ':' || "  # noqa: S608 - fixed names
                "coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') "
                f"FROM public.{table} t;"
            )
            for table in APP_TABLES
        )

    def databases(self) -> list[str]:
        return self.psql("SELECT datname FROM pg_database ORDER BY 1", db="postgres").split()

    def playbook(self, name: str, *extra: str, check: bool = False) -> subprocess.CompletedProcess:
        """Run one of playbooks/<name> against the scenario's inventory, as an operator would."""
        inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            # Plain output: the tests read task results from it.
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_NOCOLOR": "1",
            # Molecule sets ANSIBLE_FORCE_COLOR, which beats NOCOLOR: each wrapped line of a
            # message would carry its own colour codes, and a phrase across two lines not match.
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer",
            "ANSIBLE_FACT_CACHING": "memory",
        }
        # The ansible-playbook of the virtualenv that runs these tests (and Molecule).
        argv = [str(Path(sys.executable).parent / "ansible-playbook"),
                str(REPO / "playbooks" / name), "-i", str(inventory), *extra]  # fmt: skip
        proc = subprocess.run(  # noqa: S603 - the repository's own playbooks
            argv, capture_output=True, text=True, check=False, cwd=REPO, env=env
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return proc


def script(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the shipped backup script with the system python3, as the scheduled job does."""
    proc = sh("python3", str(SCRIPT), *args, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"bf_backup.py {args[0]} failed: {proc.stderr}\n{proc.stdout}")
    return proc


def result(proc: subprocess.CompletedProcess[str]) -> dict:
    """The JSON result line a script command prints last."""
    return json.loads(proc.stdout.strip().splitlines()[-1])
