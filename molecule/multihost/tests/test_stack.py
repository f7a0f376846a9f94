"""The stack a converge leaves on three hosts: what a user and an operator would check.

Tests that look at one host run on every host (Testinfra's ansible backend, over SSH). Tests of
the stack as a whole run once, from the controller, through the edge host's published port, and
skip on the other hosts.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
import yaml

# The stack's own listeners inside its networks: none may be published on any host.
DATA_PORTS = {"postgres": 5432, "redis": 6379}
# What each host runs (inventory/hosts.yml): the images it must have, and must not.
IMAGES = {
    "bf-mh-1": ({"api", "frontend", "nginx"}, set()),
    # bf-mh-2 keeps the pgBackRest repository, which runs the postgres image (one pgBackRest).
    "bf-mh-2": ({"api", "frontend", "postgres"}, {"nginx", "redis", "pgadmin"}),
    "bf-mh-3": ({"postgres", "redis", "pgadmin"}, {"api", "frontend", "nginx"}),
}
ROUNDS = 40
REPO = Path(__file__).resolve().parents[3]
# The load generator and the app-tree helper the default scenario uses (molecule/ is no package).
sys.path.insert(0, str(REPO / "molecule"))
from bf_load import PATHS, Load, changed_app_tree, playbook  # noqa: E402


def _vars(host: Any) -> dict[str, Any]:
    return host.ansible.get_variables()


def _groups(host: Any) -> dict[str, list[str]]:
    return _vars(host)["groups"]


@pytest.fixture(scope="module")
def stack(host: Any) -> str:
    return _vars(host)["bf_stack_name"]


@pytest.fixture(scope="module")
def edge(host: Any) -> dict[str, Any]:
    """The edge host's address and the site's settings; skips the tests on other hosts."""
    variables = _vars(host)
    if variables["inventory_hostname"] != _groups(host)["bf_edge"][0]:
        pytest.skip("a test of the whole stack: it runs once, on the edge host's turn")
    return {
        "address": variables["ansible_host"],
        "https": int(variables["bf_https_port"]),
        "server_name": variables["bf_server_name"],
    }


@pytest.fixture(scope="module")
def http(edge: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    # The generated certificate is for bf_server_name; the test talks to the edge's address.
    session.verify = False
    session.headers["Host"] = edge["server_name"]
    session.trust_env = False
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return session


def _url(edge: dict[str, Any], path: str) -> str:
    return f"https://{edge['address']}:{edge['https']}{path}"


def _secrets(host: Any) -> dict[str, str]:
    directory = Path(_vars(host)["bf_secrets_credentials_dir"])
    return {
        p.name: p.read_text(encoding="utf-8").strip()
        for p in directory.iterdir()
        if p.is_file() and "lockfile" not in p.name
    }


# --- The stack through the edge -----------------------------------------------------------


def test_shop_and_api_answer_through_the_edge(http: requests.Session, edge: dict[str, Any]) -> None:
    ready = http.get(_url(edge, "/api/health/ready"), timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["data"]["checks"]
    assert all(check["ok"] for check in checks.values()), checks
    home = http.get(_url(edge, "/"), timeout=10)
    assert home.status_code == 200, home.text[:500]
    assert home.headers["Content-Type"].startswith("text/html")
    assert home.headers.get("Strict-Transport-Security")


def _task_addresses(host: Any, stack: str, service: str) -> dict[str, str]:
    """The edge-network address of each running task of a service, by node."""
    ids = host.check_output(
        "docker service ps -q --filter desired-state=running %s_%s", stack, service
    ).split()
    found = {}
    for task in json.loads(host.check_output("docker inspect " + " ".join(ids))):
        if task["Status"]["State"] != "running":
            continue
        node = json.loads(host.check_output("docker node inspect %s", task["NodeID"]))[0]
        for attachment in task.get("NetworksAttachments", []):
            if attachment["Network"]["Spec"]["Name"] == f"{stack}_edge":
                found[attachment["Addresses"][0].split("/")[0]] = node["Description"]["Hostname"]
    return found


def test_api_replicas_on_two_hosts_both_serve(
    host: Any, http: requests.Session, edge: dict[str, Any], stack: str
) -> None:
    tasks = _task_addresses(host, stack, "api")
    assert len(set(tasks.values())) >= 2, f"the api tasks run on {tasks}"
    since = host.check_output("date -u +%Y-%m-%dT%H:%M:%S.%NZ")
    marker = uuid.uuid4().hex[:12]
    for i in range(ROUNDS):
        response = http.get(
            _url(edge, "/api/health/live"), headers={"X-Request-ID": f"{marker}-{i}"}, timeout=10
        )
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    served: dict[str, int] = {}
    while time.monotonic() < deadline:
        logs = host.check_output("docker service logs --raw --since %s %s_nginx", since, stack)
        served = {}
        for line in logs.splitlines():
            start = line.find("{")
            record = json.loads(line[start:]) if start >= 0 else {}
            if str(record.get("request_id", "")).startswith(marker):
                address = str(record.get("upstream_addr", "")).rsplit(":", 1)[0]
                served[address] = served.get(address, 0) + 1
        if sum(served.values()) >= ROUNDS:
            break
        time.sleep(1)
    assert sum(served.values()) == ROUNDS, served
    # Every api task answered, so traffic crossed the overlay to the other host.
    assert set(served) == set(tasks), (served, tasks)


# --- Each host ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", DATA_PORTS)
def test_data_store_answers_on_no_published_port(host: Any, service: str) -> None:
    port = DATA_PORTS[service]
    listeners = host.check_output("ss -Hltn 'sport = :%s'", str(port))
    assert listeners == "", listeners
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(3)
        assert probe.connect_ex((_vars(host)["ansible_host"], port)) != 0


def test_published_ports_follow_the_host_role(host: Any) -> None:
    variables = _vars(host)
    name, groups = variables["inventory_hostname"], _groups(host)
    listening = {
        line.split()[3] for line in host.check_output("ss -Hltn").splitlines() if line.strip()
    }
    published = {a for a in listening if a.rsplit(":", 1)[1] in ("80", "443", "5050")}
    expected = set()
    if name in groups["bf_edge"]:
        expected |= {f"{variables['bf_bind_address']}:{p}" for p in ("80", "443")}
    if name in groups["bf_admin"]:
        # Loopback only, whatever else the host publishes: reach it through an SSH tunnel.
        expected.add("127.0.0.1:5050")
    assert published == expected


def test_no_secret_in_any_container_config(host: Any) -> None:
    ids = host.check_output("docker ps -q --no-trunc").split()
    assert ids, "no container runs here"
    exposed = []
    for container in json.loads(host.check_output("docker inspect " + " ".join(ids))):
        config = container["Config"]
        exposed += (config.get("Env") or []) + (config.get("Cmd") or [])
        exposed += (config.get("Entrypoint") or []) + (container.get("Args") or [])
    text = "\n".join(exposed)
    secrets = _secrets(host)
    assert len(secrets) >= 7, sorted(secrets)
    assert sorted(name for name, value in secrets.items() if value in text) == []


def test_host_has_the_images_of_its_services_only(host: Any) -> None:
    wanted, unwanted = IMAGES[_vars(host)["inventory_hostname"]]
    repositories = set(host.check_output("docker images --format '{{.Repository}}' 'bf/*'").split())
    names = {repo.removeprefix("bf/") for repo in repositories}
    assert wanted <= names, names
    if _vars(host)["inventory_hostname"] != _groups(host)["bf_swarm_managers"][0]:
        # The build host has everything; the others get only what their tasks run.
        assert names.isdisjoint(unwanted), names


# --- Last: backup and restore across hosts ------------------------------------------------


def _admin_token(http: requests.Session, edge: dict[str, Any], host: Any) -> str:
    secrets = _secrets(host)
    body = {"email": _vars(host)["bf_admin_email"], "password": secrets["admin_password"]}
    response = http.post(_url(edge, "/api/auth/login"), json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]["access_token"]


def test_backup_and_restore_across_hosts(
    host: Any, http: requests.Session, edge: dict[str, Any]
) -> None:
    """The database on bf-mh-3, the apps on bf-mh-1 and 2, the edge on bf-mh-1."""
    auth = {"Authorization": f"Bearer {_admin_token(http, edge, host)}"}
    name = f"Across hosts {uuid.uuid4().hex[:8]}"
    created = http.post(
        _url(edge, "/api/products"), json={"name": name, "price": "3.50", "stock": 2},
        headers=auth, timeout=10,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    product = created.json()["data"]["id"]
    backup = playbook("backup.yml")
    assert backup.returncode == 0, backup.stdout[-4000:]
    deleted = http.delete(_url(edge, f"/api/products/{product}"), headers=auth, timeout=10)
    assert deleted.status_code in (200, 204), deleted.text
    assert http.get(_url(edge, f"/api/products/{product}"), timeout=10).status_code == 404
    restore = playbook("restore.yml", "-e", "restore_confirm=yes")
    assert restore.returncode == 0, restore.stdout[-4000:]
    back = http.get(_url(edge, f"/api/products/{product}"), timeout=10)
    assert back.status_code == 200 and back.json()["data"]["name"] == name, back.text
    # The flag is down on the edge again, and every service runs its tasks.
    assert not host.file(f"{_vars(host)['bf_stack_dir']}/maintenance/on").exists
    replicas = host.check_output(
        "docker service ls --format '{{.Replicas}}' --filter label=com.docker.stack.namespace=%s",
        _vars(host)["bf_stack_name"],
    ).split()
    assert replicas and all(r.split("/")[0] == r.split("/")[1] for r in replicas), replicas


# --- Last: a code change rolled out over SSH, under load --------------------------------------


# What each rollout test hands on to the next (they run in file order, on the edge host's turn).
ROLLOUT: dict[str, Any] = {}


def _releases(host: Any) -> dict[str, str]:
    stack = _vars(host)["bf_stack_name"]
    out = host.check_output(
        "docker service inspect --format '{{json .Spec.Labels}}' %s_api %s_frontend", stack, stack
    )
    labels = [json.loads(line) for line in out.splitlines()]
    return {
        name: label["io.backend-framework.release"]
        for name, label in zip(("api", "frontend"), labels, strict=True)
    }


def _under_load(edge: dict[str, Any], name: str, *extra: str) -> tuple[Any, Load, float]:
    """Run a playbook over SSH under a bounded load through the edge; return when it returned."""
    load = Load(
        base_url=f"https://{edge['address']}:{edge['https']}",
        server_name=edge["server_name"],
        host_header=edge["server_name"],
        cert_file=False,
        rate=4.0,
    )
    with load:
        time.sleep(2)
        proc = playbook(name, *extra)
        returned = time.monotonic()
        time.sleep(6)
    return proc, load, returned


def _assert_no_failure(load: Load) -> None:
    failures = load.failures()
    assert not failures, (
        load.summary() + "\n" + "\n".join(f"{f.path}: {f.status} {f.error}" for f in failures[:10])
    )


def _assert_serves(load: Load, returned: float, releases: dict[str, str]) -> None:
    for path in PATHS:
        name = "api" if path.startswith("/api/") else "frontend"
        assert load.releases_after(returned, path) == {releases[name]}, load.summary()


def test_a_code_change_rolls_out_over_ssh_with_no_failed_request(
    host: Any, edge: dict[str, Any], tmp_path: Path
) -> None:
    """Two API and two frontend replicas on two hosts update one task at a time."""
    ROLLOUT["first"] = before = _releases(host)
    tree = changed_app_tree(tmp_path / "app", api="mh-v2", frontend="mh-v2")
    proc, load, returned = _under_load(edge, "site.yml", "-e", f"bf_app_dir={tree}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    after = _releases(host)
    assert after["api"] != before["api"] and after["frontend"] != before["frontend"]
    _assert_no_failure(load)
    _assert_serves(load, returned, after)
    ROLLOUT.update(tree=tree, second=after)


def test_a_broken_release_is_rolled_back_on_every_host(
    host: Any, edge: dict[str, Any], tmp_path: Path
) -> None:
    """The engine rolls the broken frontend back on both app hosts; the old one serves."""
    assert "second" in ROLLOUT, "needs the code-change test"
    marker = "mh-v3-broken"
    tree = changed_app_tree(tmp_path / "app", api="mh-v2", frontend=marker, break_frontend=True)
    proc, load, _ = _under_load(edge, "site.yml", "-e", f"bf_app_dir={tree}")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    stack = _vars(host)["bf_stack_name"]
    assert f"rolled {stack}_frontend back from release" in output, output[-6000:]
    assert f"broken on purpose: {marker}" in output, output[-6000:]
    assert _releases(host) == ROLLOUT["second"]
    _assert_no_failure(load)
    assert {s.release for s in load.samples if s.path == "/"} == {ROLLOUT["second"]["frontend"]}


def test_an_edge_header_change_reloads_nginx_over_ssh(
    host: Any, edge: dict[str, Any], http: requests.Session
) -> None:
    """A header value reaches the running edge Nginx by a reload: its task is not replaced."""
    assert "tree" in ROLLOUT, "needs the code-change test"
    defaults = yaml.safe_load((REPO / "roles/bf_config/defaults/main.yml").read_text())
    headers = dict(defaults["bf_config_security_headers"])
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    nginx = "docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=%s_nginx"
    stack = _vars(host)["bf_stack_name"]
    before = host.check_output(nginx, stack)
    proc, load, _ = _under_load(
        edge, "site.yml", "-e", f"bf_app_dir={ROLLOUT['tree']}",
        "-e", json.dumps({"bf_config_security_headers": headers}),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    _assert_no_failure(load)
    assert before and host.check_output(nginx, stack) == before
    response = http.get(_url(edge, "/"), timeout=10)
    assert response.headers["Permissions-Policy"] == headers["Permissions-Policy"]
    assert _releases(host) == ROLLOUT["second"]


def test_rollback_over_ssh_returns_to_the_previous_release(host: Any, edge: dict[str, Any]) -> None:
    """playbooks/rollback.yml under load, then once more: the second run changes nothing."""
    assert "first" in ROLLOUT, "needs the code-change test"
    proc, load, returned = _under_load(edge, "rollback.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert _releases(host) == ROLLOUT["first"]
    _assert_no_failure(load)
    _assert_serves(load, returned, ROLLOUT["first"])
    again = playbook("rollback.yml")
    assert again.returncode == 0, again.stdout[-4000:]
    recap = re.findall(r"^(bf-mh-\d)\s+: ok=\d+\s+changed=(\d+)", again.stdout, re.MULTILINE)
    assert len(recap) == 3 and {changed for _, changed in recap} == {"0"}, again.stdout[-3000:]
