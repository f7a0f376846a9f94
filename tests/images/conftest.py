"""Fixtures for the image tests: run the images playbook, start throwaway containers.

The playbook runs against a copy of app/ (``bf_app_dir``) so that tests may change files
without touching the real tree. Built images stay (they are the build cache); every container,
network and volume a test creates carries :data:`TEST_LABEL` and is removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

REPO = Path(__file__).resolve().parents[2]
TEST_LABEL = {"io.backend-framework.test": "images"}
SERVICES = ("api", "frontend", "nginx", "postgres", "redis", "pgadmin")


@dataclass
class PlaybookRun:
    """What one run of playbooks/images.yml did."""

    changed: int
    refs: dict[str, str]
    built: set[str] = field(default_factory=set)
    failed_output: str = ""


def copy_app_tree(dest: Path) -> Path:
    """Copy the repository's app/ without caches, as a playground for the playbook."""
    shutil.copytree(
        REPO / "app",
        dest,
        ignore=shutil.ignore_patterns(".wheels", "__pycache__", ".pytest_cache", "*.pyc"),
    )
    return dest


def run_images_playbook(app_dir: Path, **extra_vars: object) -> PlaybookRun:
    """Run the images playbook on this host and summarise its JSON report."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    variables = {
        "ansible_connection": "local",
        "ansible_python_interpreter": str(REPO / ".venv/bin/python"),
        "bf_app_dir": str(app_dir),
        **extra_vars,
    }
    proc = subprocess.run(
        [
            str(REPO / ".venv/bin/ansible-playbook"),
            str(REPO / "playbooks/images.yml"),
            # The local inventory: this machine is the build host of its one-node swarm.
            "-i",
            str(REPO / "inventories" / "local"),
            "-e",
            json.dumps(variables),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"images playbook failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr}"
        )
    # ansible.cfg's profile_tasks/timer callbacks print around the JSON document.
    start = re.search(r"^\{", proc.stdout, re.MULTILINE)
    assert start, proc.stdout[-3000:]
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[start.start() :])
    refs: dict[str, str] = {}
    built: set[str] = set()
    for play in report["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            facts = result.get("ansible_facts", {})
            if "bf_images_refs" in facts:
                refs = facts["bf_images_refs"]
            if "Start the builds of the missing images" in task["task"]["name"]:
                built |= {
                    r["item"]["name"] for r in result.get("results", []) if not r.get("skipped")
                }
    return PlaybookRun(changed=report["stats"]["localhost"]["changed"], refs=refs, built=built)


@pytest.fixture(scope="session")
def app_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of app/ the session's builds use."""
    return copy_app_tree(tmp_path_factory.mktemp("images") / "app")


@pytest.fixture(scope="session")
def first_run(app_copy: Path) -> PlaybookRun:
    """The session's first run of the images playbook: builds whatever is not cached."""
    return run_images_playbook(app_copy)


@pytest.fixture(scope="session")
def refs(first_run: PlaybookRun) -> dict[str, str]:
    """Image reference of every service, as the playbook published it."""
    return first_run.refs


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A Docker client; removes every labelled test container, network and volume at the end."""
    client = docker.from_env(timeout=300)
    _remove_test_objects(client)
    yield client
    _remove_test_objects(client)
    client.close()


def _remove_test_objects(client: docker.DockerClient) -> None:
    selector = {"label": [f"{k}={v}" for k, v in TEST_LABEL.items()]}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        network.remove()
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)


@pytest.fixture(scope="session")
def secret_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Throwaway secrets, one file each, readable by the images' unprivileged users."""
    directory = tmp_path_factory.mktemp("secrets")
    directory.chmod(0o755)
    for name in (
        "secret_key",
        "jwt_secret_key",
        "frontend_secret_key",
        "postgres_password",
        "redis_password",
        "pgadmin_password",
        "postgres_replication_password",
    ):
        path = directory / name
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o444)
    return directory


@pytest.fixture(scope="session")
def test_network(docker_client: docker.DockerClient) -> Iterator[str]:
    """An internal bridge network (no route out, no published ports) for the containers."""
    network = docker_client.networks.create(
        f"bf-images-test-{secrets.token_hex(4)}", driver="bridge", internal=True, labels=TEST_LABEL
    )
    yield network.name
    network.remove()


@pytest.fixture
def start(
    docker_client: docker.DockerClient, secret_dir: Path, test_network: str
) -> Iterator[callable]:
    """Start a labelled container from an image, with the secrets at /run/secrets."""
    started: list[Container] = []

    def _start(image: str, name: str, **kwargs: object) -> Container:
        volumes = {str(secret_dir): {"bind": "/run/secrets", "mode": "ro"}}
        volumes.update(kwargs.pop("volumes", {}))
        container = docker_client.containers.run(
            image,
            name=f"bf-images-test-{name}-{secrets.token_hex(3)}",
            detach=True,
            labels=TEST_LABEL,
            network=test_network,
            volumes=volumes,
            **kwargs,
        )
        started.append(container)
        return container

    yield _start
    for container in started:
        container.remove(force=True, v=True)


def wait_healthy(container: Container, timeout: float = 180.0) -> None:
    """Wait until Docker reports the container healthy; fail with its logs otherwise."""
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        status = state.get("Health", {}).get("Status", "none")
        if status == "healthy":
            return
        if state["Status"] in ("exited", "dead"):
            break
        time.sleep(1)
    logs = container.logs(tail=60).decode(errors="replace")
    # The probes' own output says why (a timeout, a refused connection, a traceback): the
    # server's log alone does not.
    probes = "\n".join(
        f"{p.get('Start', '')} exit {p.get('ExitCode')}: {p.get('Output', '').strip()}"
        for p in container.attrs["State"].get("Health", {}).get("Log", [])
    )
    pytest.fail(
        f"{container.name} is {status} ({container.attrs['State']['Status']}):\n"
        f"health probes:\n{probes or '(none)'}\nlogs:\n{logs}"
    )


def pid1_uid(container: Container) -> int:
    """Real uid of the container's PID 1 (the server after any privilege drop)."""
    code, out = container.exec_run(["cat", "/proc/1/status"])
    assert code == 0, out
    line = next(x for x in out.decode().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])
