"""Zero-downtime updates of the converged stack, under a bounded load through the edge.

In order, each test starting from what the one before left: a code change to the API and the
frontend redeployed with site.yml; a broken frontend release, which the engine rolls back; an
edge header change (a graceful Nginx reload); playbooks/rollback.yml back to the first release.
Every one of them runs under `Load` (molecule/bf_load.py) and must leave 0 failed requests.
These run after test_stack.py (file order): they replace the releases it checked.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import yaml
from bf_load import PATHS, REPO, Load, changed_app_tree, playbook
from conftest import Scenario, running_containers, service_spec

RELEASE_LABEL = "io.backend-framework.release"
# Requests a second to each path (three paths): under the edge's per-client 20 r/s.
RATE = 5.0
# Seconds the load goes on after a playbook returned: these answers must all be the new release.
AFTER = 6.0
pytestmark = pytest.mark.logs_from("nginx", "api", "frontend")


def _releases(host: Any, project: str) -> dict[str, str]:
    return {
        name: service_spec(host, project, name)["Spec"]["Labels"][RELEASE_LABEL]
        for name in ("api", "frontend")
    }


def _release_of(path: str) -> str:
    return "api" if path.startswith("/api/") else "frontend"


def _load(scenario: Scenario) -> Load:
    return Load(
        base_url=scenario.base_url,
        server_name=scenario.server_name,
        host_header=f"{scenario.server_name}:{scenario.https_port}",
        cert_file=str(scenario.cert_file),
        rate=RATE,
    )


def _under_load(scenario: Scenario, name: str, *extra: str) -> tuple[Any, Load, float]:
    """Run a playbook under the load; return its result, the load, and when it returned."""
    with _load(scenario) as load:
        time.sleep(2)
        proc = playbook(name, *extra)
        returned = time.monotonic()
        time.sleep(AFTER)
    return proc, load, returned


def _assert_no_failure(load: Load) -> None:
    failures = load.failures()
    assert not failures, f"{len(failures)} failed requests:\n{load.summary()}\n" + "\n".join(
        f"{f.path}: {f.status} {f.error}" for f in failures[:10]
    )
    for path in PATHS:
        assert any(s.path == path for s in load.samples), load.summary()


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """What the tests of this module hand on to the next one."""
    return {}


def test_a_code_change_rolls_out_with_no_failed_request(
    host: Any, scenario: Scenario, state: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    state["first"] = before = _releases(host, scenario.project)
    spec = service_spec(host, scenario.project, "api")["Spec"]["TaskTemplate"]["ContainerSpec"]
    state["first_api_image"] = spec["Image"].split("@")[0]
    tree = changed_app_tree(tmp_path_factory.mktemp("v2") / "app", api="v2", frontend="v2")
    state["tree"] = tree
    proc, load, returned = _under_load(scenario, "site.yml", "-e", f"bf_app_dir={tree}")
    print(load.summary())
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    after = _releases(host, scenario.project)
    state["second"] = after
    assert after["api"] != before["api"] and after["frontend"] != before["frontend"]
    _assert_no_failure(load)
    for path in PATHS:
        # Once the deploy returned, only the new release answers.
        assert load.releases_after(returned, path) == {after[_release_of(path)]}, load.summary()
    # The release the edge shows is the one the API names itself.
    live = [s for s in load.samples if s.path == "/api/health/ready" and s.sent > returned]
    assert live and all(s.release == after["api"] for s in live)


def test_a_broken_release_is_rolled_back_by_the_engine(
    host: Any, scenario: Scenario, state: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert "second" in state, "needs the previous test"
    marker = "v3-broken"
    # The API as deployed (same marker, same release); only the frontend changes, and raises.
    tree = changed_app_tree(
        tmp_path_factory.mktemp("v3") / "app", api="v2", frontend=marker, break_frontend=True
    )
    proc, load, _ = _under_load(scenario, "site.yml", "-e", f"bf_app_dir={tree}")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    # The message names the service, the releases and the failed task's own last log lines.
    assert f"rolled {scenario.project}_frontend back from release" in output, output[-6000:]
    assert f"to {state['second']['frontend']}" in output, output[-6000:]
    assert f"broken on purpose: {marker}" in output, output[-6000:]
    assert _releases(host, scenario.project) == state["second"]
    _assert_no_failure(load)
    # The old frontend served the whole time.
    frontend = {s.release for s in load.samples if s.path == "/"}
    assert frontend == {state["second"]["frontend"]}, load.summary()


def test_an_edge_header_change_reloads_nginx_with_no_failed_request(
    host: Any, scenario: Scenario, state: dict[str, Any], http: Any
) -> None:
    assert "tree" in state, "needs the first test"
    # The role's default headers (host variables do not include role defaults).
    defaults = yaml.safe_load((REPO / "roles/bf_config/defaults/main.yml").read_text())
    headers = dict(defaults["bf_config_security_headers"])
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    nginx_before = running_containers(host, scenario.project)["nginx"]["Id"]
    spec = service_spec(host, scenario.project, "api")["Spec"]["TaskTemplate"]["ContainerSpec"]
    api_image = spec["Image"].split("@")[0]
    proc, load, _ = _under_load(
        scenario,
        "site.yml",
        "-e",
        f"bf_app_dir={state['tree']}",
        "-e",
        json.dumps({"bf_config_security_headers": headers}),
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    _assert_no_failure(load)
    # Nginx reloaded its config in place: the edge task (its container) was not replaced. (The
    # service's Version moves anyway: `docker stack deploy` updates every service it names.)
    assert running_containers(host, scenario.project)["nginx"]["Id"] == nginx_before
    response = http.get(f"{scenario.base_url}/", timeout=10)
    assert response.headers["Permissions-Policy"] == headers["Permissions-Policy"]
    assert _releases(host, scenario.project) == state["second"]
    # Both kept releases' images stay on the node: rollback.yml needs them, without a rebuild.
    tags = set(host.check_output("docker image ls --format '{{.Repository}}:{{.Tag}}'").split())
    assert api_image in tags and state["first_api_image"] in tags, sorted(tags)


def test_rollback_returns_to_the_previous_release_with_no_failed_request(
    host: Any, scenario: Scenario, state: dict[str, Any]
) -> None:
    assert "first" in state, "needs the first test"
    proc, load, returned = _under_load(scenario, "rollback.yml")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert _releases(host, scenario.project) == state["first"]
    _assert_no_failure(load)
    for path in PATHS:
        assert load.releases_after(returned, path) == {state["first"][_release_of(path)]}
    # A second run plans the same file: nothing changes.
    again = playbook("rollback.yml")
    assert again.returncode == 0, again.stdout[-4000:]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", again.stdout)
    recap = re.findall(r"^localhost\s+: ok=\d+\s+changed=(\d+)", plain, re.MULTILINE)
    assert recap and set(recap) == {"0"}, plain[-3000:]
