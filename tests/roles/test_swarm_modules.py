"""The project's swarm modules (plugins/modules) against this machine's one-node swarm.

bf_swarm_job runs a one-off task and reports its exit code and output; bf_swarm_wait waits for a
stack's services to run a release, and fails naming what is stuck. Every service and secret the
tests make carries the stack label of a throwaway stack name and is removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
RELEASE = "io.backend-framework.release"


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def image() -> str:
    """A small local image with a shell (any bf/* image has one)."""
    refs = [
        line
        for line in _docker("images", "--format", "{{.Repository}}:{{.Tag}}", "bf/*").stdout.split()
        if not line.endswith(":<none>")
    ]
    if not refs:
        pytest.fail("no bf/* image on this engine: build them first (make images)")
    return next((r for r in refs if r.startswith("bf/nginx:")), refs[0])


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    """A throwaway stack name; its services and secrets are removed afterwards."""
    if _docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() != "active":
        pytest.fail("this engine is not in a swarm: run make docker-host")
    name = f"bfmod-{secrets.token_hex(3)}"
    yield name
    for kind in ("service", "secret"):
        ids = _docker(
            kind, "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"
        ).stdout.split()
        if ids:
            _docker(kind, "rm", *ids, check=False)


def _play(tmp_path: Path, tasks: list[dict]) -> tuple[int, dict]:
    """Run the tasks on localhost; return the exit code and the last task's result."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"name": "Swarm modules", "hosts": "localhost", "gather_facts": False,
              "tasks": tasks}],
            sort_keys=False,
        )
    )  # fmt: skip
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    start = proc.stdout.find("{")
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])
    last = report["plays"][0]["tasks"][-1]["hosts"]["localhost"]
    return proc.returncode, last


def _job(stack: str, image: str, command: list[str], name: str) -> dict:
    return {
        "Name": f"{stack}_{name}",
        "Labels": {"com.docker.stack.namespace": stack},
        "TaskTemplate": {
            "ContainerSpec": {"Image": image, "Command": command,
                              "Healthcheck": {"Test": ["NONE"]}},
            "RestartPolicy": {"Condition": "none"},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
    }  # fmt: skip


def test_job_reports_its_output_and_removes_itself(tmp_path: Path, stack: str, image: str) -> None:
    spec = _job(stack, image, ["sh", "-c", "echo Running upgrade 0001; echo done >&2"], "ok")
    rc, result = _play(
        tmp_path, [{"bf_swarm_job": {"spec": spec, "changed_regex": "Running upgrade"}}]
    )
    assert rc == 0, result
    assert result["rc"] == 0 and result["state"] == "complete"
    assert "Running upgrade 0001" in result["stdout"] and "done" in result["stdout"]
    assert result["changed"] is True
    assert _docker("service", "inspect", f"{stack}_ok", check=False).returncode != 0


def test_job_that_changes_nothing_says_so(tmp_path: Path, stack: str, image: str) -> None:
    spec = _job(stack, image, ["sh", "-c", "echo already at head"], "noop")
    rc, result = _play(
        tmp_path, [{"bf_swarm_job": {"spec": spec, "changed_regex": "Running upgrade"}}]
    )
    assert rc == 0 and result["changed"] is False, result


def test_failed_job_fails_with_its_exit_code_and_output(
    tmp_path: Path, stack: str, image: str
) -> None:
    spec = _job(stack, image, ["sh", "-c", "echo migration broke; exit 3"], "bad")
    rc, result = _play(tmp_path, [{"bf_swarm_job": {"spec": spec}}])
    assert rc != 0
    assert "did not succeed" in result["msg"] and "exit 3" in result["msg"]
    assert "migration broke" in result["msg"]
    assert _docker("service", "inspect", f"{stack}_bad", check=False).returncode != 0


def test_job_resolves_secret_names(tmp_path: Path, stack: str, image: str) -> None:
    secret = f"{stack}_token_v1"
    subprocess.run(
        ["docker", "secret", "create", "--label", f"com.docker.stack.namespace={stack}",
         secret, "-"],
        input="s3cret-value", text=True, capture_output=True, check=True,
    )  # fmt: skip
    spec = _job(stack, image, ["sh", "-c", "wc -c < /run/secrets/token"], "secret")
    spec["TaskTemplate"]["ContainerSpec"]["Secrets"] = [
        # Owned by the image's user, mode 0400: what bf_stack gives every service.
        {"SecretName": secret, "File": {"Name": "token", "UID": "101", "GID": "101", "Mode": 256}}
    ]
    rc, result = _play(tmp_path, [{"bf_swarm_job": {"spec": spec}}])
    assert rc == 0, result
    assert result["stdout"].strip() == "12"
    assert "s3cret-value" not in json.dumps(result)


def _service(stack: str, image: str, name: str, release: str, *extra: str) -> None:
    _docker(
        "service", "create", "--detach", "--name", f"{stack}_{name}",
        "--label", f"com.docker.stack.namespace={stack}", "--label", f"{RELEASE}={release}",
        "--container-label", f"{RELEASE}={release}", "--endpoint-mode", "dnsrr",
        # The image's own healthcheck watches a server this command does not start.
        "--no-healthcheck", *extra, image, "sh", "-c", "sleep 600",
    )  # fmt: skip


def test_wait_returns_once_the_release_runs(tmp_path: Path, stack: str, image: str) -> None:
    _service(stack, image, "web", "r1")
    rc, result = _play(
        tmp_path, [{"bf_swarm_wait": {"stack": stack, "releases": {"web": "r1"}, "timeout": 120}}]
    )
    assert rc == 0, result
    assert result["services"][0]["state"] == "converged"


def test_wait_names_a_service_that_cannot_be_placed(tmp_path: Path, stack: str, image: str) -> None:
    _service(stack, image, "stuck", "r1", "--constraint", "node.labels.bf_nowhere==true")
    rc, result = _play(
        tmp_path,
        [{"bf_swarm_wait": {"stack": stack, "releases": {"stuck": "r1"}, "timeout": 10}}],
    )
    assert rc != 0
    assert f"{stack}_stuck: 0/1 tasks of the release running" in result["msg"]
    assert "no suitable node" in result["msg"]


def test_report_only_gives_the_release_of_each_service(
    tmp_path: Path, stack: str, image: str
) -> None:
    rc, result = _play(
        tmp_path,
        [
            {
                "bf_swarm_wait": {
                    "stack": stack,
                    "releases": {"web": "another", "absent": "x"},
                    "report_only": True,
                }
            }
        ],
    )
    assert rc == 0, result
    assert result["releases"] == {"absent": None, "web": "r1"}
