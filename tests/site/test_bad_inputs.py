"""Bad inputs stop site.yml in its first play with a message naming the fix; nothing changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bf_site_helpers import REPO, copy_inventory, run


def _app_copy(tmp_path: Path, edit) -> Path:  # noqa: ANN001 - a small callable
    """Copy app/*/service.yml (and the static dir) to ``tmp_path/app`` and apply ``edit``.

    Args:
        tmp_path: Scratch directory.
        edit: Function taking ``{service: manifest}`` and changing it in place.

    Returns:
        The app directory of the copy.
    """
    app = tmp_path / "app"
    manifests = {}
    for manifest in sorted(REPO.glob("app/*/service.yml")):
        name = manifest.parent.name
        (app / name).mkdir(parents=True)
        for extra in ("Dockerfile",):
            if (manifest.parent / extra).exists():
                shutil.copy(manifest.parent / extra, app / name / extra)
        manifests[name] = yaml.safe_load(manifest.read_text())
        static = manifests[name].get("static", {}).get("dir")
        if static:
            (app / static).mkdir(parents=True, exist_ok=True)
    edit(manifests)
    for name, data in manifests.items():
        (app / name / "service.yml").write_text(yaml.safe_dump(data))
    return app


def _drop_key(key: str):  # noqa: ANN202
    return lambda m: m["api"].pop(key)


def _set(service: str, key: str, value):  # noqa: ANN001, ANN202
    return lambda m: m[service].__setitem__(key, value)


# (id, extra vars, app edit or None, inventory: local|prod-placeholder|prod-novault|no-admin-group,
#  text the output must contain)
CASES = [
    (
        "unknown-environment",
        {"bf_environment": "qa"},
        None,
        "local",
        "bf_environment is 'qa'; set it to local, staging or prod",
    ),
    (
        "port-out-of-range",
        {"bf_https_port": 70000},
        None,
        "local",
        "bf_https_port is '70000'; it must be an integer port from 1 to 65535",
    ),
    ("port-wrong-type", {"bf_http_port": "eighty"}, None, "local", "bf_http_port is 'eighty'"),
    (
        "ports-collide",
        {"bf_http_port": 8443, "bf_https_port": 8443},
        None,
        "local",
        "must be three different ports",
    ),
    (
        "bad-bind-address",
        {"bf_bind_address": "300.1.1.1"},
        None,
        "local",
        "bf_bind_address (300.1.1.1) must be an IPv4 address",
    ),
    (
        "bad-server-name",
        {"bf_server_name": "shop example com"},
        None,
        "local",
        "bf_server_name (shop example com) must be a DNS name",
    ),
    (
        "bool-wrong-type",
        {"bf_deploy_admin_enabled": "maybe"},
        None,
        "local",
        "argument 'bf_deploy_admin_enabled' is of type str and we were unable to convert to bool",
    ),
    (
        "int-wrong-type",
        {"bf_deploy_wait_timeout": "soon"},
        None,
        "local",
        "argument 'bf_deploy_wait_timeout' is of type str and we were unable to convert to int",
    ),
    (
        "short-secret",
        {"bf_secrets_values": {"admin_password": "hunter2"}},
        None,
        "local",
        "shorter than\n16 characters: admin_password",
    ),
    (
        "generated-secrets-in-prod",
        {"bf_secrets_generate": True},
        None,
        "prod-placeholder",
        "bf_secrets_generate is true in the prod inventory",
    ),
    ("placeholder-secret-in-prod", {}, None, "prod-placeholder", "a placeholder like CHANGE_ME"),
    (
        "vault-variable-missing",
        {},
        None,
        "prod-novault",
        "add\nvault_bf_secret_postgres_password to inventories/<env>/group_vars/all/vault.yml",
    ),
    (
        "missing-contract-group",
        {},
        None,
        "no-admin-group",
        "The inventory lacks the groups bf_admin",
    ),
    (
        "manifest-missing-key",
        {},
        _drop_key("wsgi"),
        "local",
        "api/service.yml: required key 'wsgi' is missing",
    ),
    (
        "route-claimed-twice",
        {},
        _set("frontend", "route", "/api/"),
        "local",
        "route '/api/' is claimed by both",
    ),
    (
        "unknown-service-in-needs",
        {},
        _set("api", "needs", ["postgres", "mongo"]),
        "local",
        "key 'needs' lists 'mongo'",
    ),
    (
        "negative-memory-limit",
        {"bf_config_mem_limits": {"redis": "-256m"}},
        None,
        "local",
        "must be positive sizes such as 512m or 1g",
    ),
]


def _inventory(kind: str, tmp_path: Path) -> Path:
    if kind == "local":
        return REPO / "inventories" / "local"
    if kind.startswith("prod"):
        inventory = copy_inventory("prod", tmp_path / "inv")
        if kind == "prod-placeholder":
            vault = inventory / "group_vars" / "all"
            shutil.copy(vault / "vault.yml.example", vault / "vault.yml")
        return inventory
    inventory = copy_inventory("local", tmp_path / "inv")
    hosts = inventory / "hosts.yml"
    data = yaml.safe_load(hosts.read_text())
    del data["bf_docker_hosts"]["children"]["bf_admin"]
    hosts.write_text("---\n" + yaml.safe_dump(data))
    return inventory


def _project_containers(project: str) -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        return []
    out = subprocess.run(
        [docker, "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()


@pytest.mark.parametrize(
    ("extra", "edit", "kind", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_stops_preflight(
    tmp_path: Path,
    extra: dict,
    edit,
    kind: str,  # noqa: ANN001
    expected: str,
) -> None:
    stack_dir = tmp_path / "stack"
    project = f"bftest-{tmp_path.name.lower().replace('_', '-')}"[:60]
    extra_vars = {
        "bf_stack_dir": str(stack_dir),
        "bf_stack_name": project,
        # The prod host of the copy is reached locally: the preflight only asserts, gathers facts.
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    if edit is not None:
        extra_vars["bf_app_dir"] = str(_app_copy(tmp_path, edit))
    vars_file = tmp_path / "extra.json"
    vars_file.write_text(json.dumps(extra_vars))
    result = run(
        [
            "ansible-playbook",
            "playbooks/preflight.yml",
            "-i",
            str(_inventory(kind, tmp_path)),
            "-e",
            f"@{vars_file}",
        ]
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # Ansible wraps long messages: compare with whitespace collapsed.
    assert " ".join(expected.split()) in " ".join(output.split()), output
    # It stopped in the preflight play: no task of a later play started.
    assert "PLAY [Prepare the Docker hosts]" not in output, output
    assert not stack_dir.exists()
    assert _project_containers(project) == []


def test_good_inputs_pass_preflight() -> None:
    """The control case: the same command with the shipped local inventory passes."""
    result = run(["ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/local"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_checks_everything_before_any_change() -> None:
    """site.yml starts with the preflight play, which stops every host at the first failure."""
    site = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert site[0]["ansible.builtin.import_playbook"] == "preflight.yml"
    preflight = yaml.safe_load((REPO / "playbooks" / "preflight.yml").read_text())
    assert preflight[0]["any_errors_fatal"] is True
    assert preflight[0]["gather_facts"] is False
    modules = {key for task in preflight[0]["tasks"] for key in task if "." in key}
    for block in (t for t in preflight[0]["tasks"] if "block" in t):
        modules |= {key for task in block["block"] for key in task if "." in key}
    # Only checks: nothing in the first play can change a host.
    assert modules <= {
        "ansible.builtin.assert",
        "ansible.builtin.include_role",
        "ansible.builtin.validate_argument_spec",
    }, modules
