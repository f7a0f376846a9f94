"""What the database tests do to the site: a query in a database task on a nested host, the
API's readiness, an admin's token (molecule/ holds no package: the tests import this by name)."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

import requests


def host_sh(node: str, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A shell script on the nested host ``node`` (through this machine's engine)."""
    return subprocess.run(  # noqa: S603 - the scenario's own host containers
        ["docker", "exec", node, "sh", "-c", script],  # noqa: S607
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def psql(site: dict[str, Any], node: str, service: str, sql: str) -> str:
    """One query in the running task of ``service`` on the nested host ``node``."""
    script = (
        f"id=$(docker ps -q --filter label=com.docker.swarm.service.name={site['stack']}_{service}"
        ' --filter status=running | head -n 1); test -n "$id" || exit 3; '
        f'docker exec -u postgres "$id" psql -X -At -v ON_ERROR_STOP=1 -U {site["user"]}'
        f" -d {site['db']} -c {shlex.quote(sql)}"
    )
    proc = host_sh(node, script)
    assert proc.returncode == 0, f"{node} {service}: {sql}\n{proc.stderr}"
    return proc.stdout.strip()


def ready(http: requests.Session, site: dict[str, Any]) -> dict[str, Any]:
    response = http.get(f"{site['url']}/api/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def login_admin(http: requests.Session, site: dict[str, Any]) -> str:
    password = (site["credentials"] / "admin_password").read_text(encoding="utf-8").strip()
    response = http.post(
        f"{site['url']}/api/auth/login",
        json={"email": site["admin_email"], "password": password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["access_token"]
