"""Fixtures every stack scenario's Testinfra tests share (default, backup, resilience): the
scenario's settings, an HTTPS client that talks to 127.0.0.1 only, the stack's task containers
on this one-node swarm, and service logs printed under a failed test."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from bf_load import LoopbackTLSAdapter

# Every service of the stack contract; the stack must run each of them.
SERVICES = ("api", "frontend", "nginx", "postgres", "pgbackrest", "redis", "cache", "pgadmin")
# Lines of each service's log printed under a failed test.
LOG_TAIL = 80
_PROJECT_KEY = pytest.StashKey[str]()


@dataclass(frozen=True)
class Scenario:
    """What the scenario's inventory (inventory/host_vars/localhost.yml) set up."""

    project: str
    stack_dir: Path
    credentials_dir: Path
    server_name: str
    http_port: int
    https_port: int
    pgadmin_port: int
    admin_email: str

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def cert_file(self) -> Path:
        return self.stack_dir / "config" / "nginx" / "tls" / "fullchain.pem"

    def secret(self, name: str) -> str:
        """One generated secret of the scenario, as the password lookup stored it."""
        return (self.credentials_dir / name).read_text(encoding="utf-8").strip()

    def secrets(self) -> dict[str, str]:
        return {
            path.name: self.secret(path.name)
            for path in sorted(self.credentials_dir.iterdir())
            if path.is_file() and "ansible_lockfile" not in path.name
        }


@pytest.fixture(scope="module")
def scenario(host: Any, pytestconfig: pytest.Config) -> Scenario:
    """The scenario's settings, read from the same inventory the converge used."""
    variables = host.ansible.get_variables()
    result = Scenario(
        project=variables["bf_stack_name"],
        stack_dir=Path(variables["bf_stack_dir"]),
        credentials_dir=Path(variables["bf_secrets_credentials_dir"]),
        server_name=variables["bf_server_name"],
        http_port=int(variables["bf_http_port"]),
        https_port=int(variables["bf_https_port"]),
        pgadmin_port=int(variables["bf_pgadmin_port"]),
        admin_email=variables["bf_admin_email"],
    )
    # The log dump on failure needs the stack even for tests that never asked for it.
    pytestconfig.stash[_PROJECT_KEY] = result.project
    return result


@pytest.fixture(scope="module")
def http(scenario: Scenario) -> requests.Session:
    """A client for the scenario's Nginx that trusts only the generated certificate."""
    session = requests.Session()
    session.mount("https://", LoopbackTLSAdapter(scenario.server_name))
    session.verify = str(scenario.cert_file)
    session.headers["Host"] = f"{scenario.server_name}:{scenario.https_port}"
    # No proxy from the environment may stand between the tests and 127.0.0.1.
    session.trust_env = False
    return session


def running_containers(host: Any, project: str) -> dict[str, dict[str, Any]]:
    """`docker inspect` of the running task container of each service, by short service name.

    This machine is a one-node swarm: every task of the stack runs here, one per service.
    """
    ids = host.check_output(
        "docker ps --quiet --no-trunc --filter label=com.docker.stack.namespace=%s", project
    ).split()
    assert ids, f"no running task of the stack {project}"
    inspected = json.loads(host.check_output("docker inspect " + " ".join(ids)))
    found: dict[str, dict[str, Any]] = {}
    for container in inspected:
        service = container["Config"]["Labels"]["com.docker.swarm.service.name"]
        found[service.removeprefix(f"{project}_")] = container
    return found


def service_spec(host: Any, project: str, service: str) -> dict[str, Any]:
    """`docker service inspect` of one service of the stack (its Spec, Version, UpdateStatus)."""
    return json.loads(host.check_output("docker service inspect %s_%s", project, service))[0]


@pytest.fixture(scope="module")
def containers(host: Any, scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The running task container of every service, by short service name."""
    return running_containers(host, scenario.project)


@pytest.fixture(scope="module")
def admin_token(http: requests.Session, scenario: Scenario) -> str:
    """A JWT of the admin the deploy created (password from the scenario's credentials)."""
    body = {"email": scenario.admin_email, "password": scenario.secret("admin_password")}
    # A verify re-run within a minute meets the login rate limit the last one exhausted.
    deadline = time.monotonic() + 75
    while True:
        response = http.post(f"{scenario.base_url}/api/auth/login", json=body, timeout=10)
        if response.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert response.status_code == 200, response.text
    return response.json()["data"]["access_token"]


def _logs(config: pytest.Config, services: list[str]) -> str:
    project = config.stash[_PROJECT_KEY]
    text = []
    for service in services or SERVICES:
        argv = ["docker", "service", "logs", "--no-trunc", "--tail", str(LOG_TAIL)]
        # argv only: the stack name comes from the scenario's own inventory.
        result = subprocess.run(  # noqa: S603
            [*argv, f"{project}_{service}"], capture_output=True, text=True, timeout=60, check=False
        )
        text.append(f"--- {service}\n{result.stdout}{result.stderr}")
    return "\n".join(text)


def _relevant_services(item: pytest.Item) -> list[str]:
    marker = item.get_closest_marker("logs_from")
    if marker is not None:
        return list(marker.args)
    callspec = getattr(item, "callspec", None)
    service = callspec.params.get("service") if callspec is not None else None
    return [service] if service in SERVICES else []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Print the relevant containers' logs under every failed test (all of them by default)."""
    outcome = yield
    report = outcome.get_result()
    # Scenarios without a stack (provision) get no logs section.
    if report.failed and call.when in ("setup", "call") and _PROJECT_KEY in item.config.stash:
        services = _relevant_services(item)
        title = f"docker service logs --tail {LOG_TAIL} {' '.join(services) or '(all services)'}"
        report.sections.append((title, _logs(item.config, services)))
