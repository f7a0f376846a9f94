"""The root group_vars reach every inventory, and each inventory's own values win."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from bf_site_helpers import REPO, copy_inventory, run

ENVIRONMENTS = ["local", "staging", "prod"]
WILDCARD = ".".join(["0"] * 4)  # what staging/prod publish on
SHARED = yaml.safe_load((REPO / "group_vars" / "all" / "shared.yml").read_text())


def inventory_vars(inventory: Path | str) -> dict:
    """Return the variables of group ``all`` as ``ansible-inventory --export`` reads them.

    Args:
        inventory: Inventory directory.

    Returns:
        The (untemplated) variables of ``all``.
    """
    result = run(["ansible-inventory", "-i", str(inventory), "--list", "--export"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["all"]["vars"]


def templated(inventory: Path | str, expression: str) -> str:
    """Return ``expression`` templated for the first host of ``bf_docker_hosts``.

    Args:
        inventory: Inventory directory.
        expression: Jinja2 text, e.g. ``{{ bf_deploy_bind_address }}``.

    Returns:
        The rendered text (``ansible -m debug`` runs on the controller, it connects nowhere).
    """
    result = run(
        [
            "ansible",
            "bf_docker_hosts[0]",
            "-i",
            str(inventory),
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg=>>{expression}<<",
            "-e",
            "ansible_connection=local",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split(">>", 1)[1].split("<<", 1)[0]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_shared_link_is_relative_and_resolves(env_name: str) -> None:
    link = REPO / "inventories" / env_name / "group_vars" / "all" / "000-shared.yml"
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link)), "the link must survive a clone elsewhere"
    assert link.resolve() == (REPO / "group_vars" / "all" / "shared.yml").resolve()


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_shared_values_reach_every_inventory(env_name: str) -> None:
    found = inventory_vars(REPO / "inventories" / env_name)
    for key in (
        "bf_stack_dir",
        "bf_https_port",
        "bf_pgadmin_port",
        "bf_postgres_db",
        "bf_app_dir",
        "bf_provision_base_dir",
    ):
        assert found[key] == SHARED[key], key
    assert found["bf_environment"] == env_name


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_inventory_values_override_shared_ones(env_name: str) -> None:
    assert SHARED["bf_bind_address"] == "127.0.0.1"
    assert templated(REPO / "inventories" / env_name, "{{ bf_bind_address }}") == WILDCARD
    # Role variables wired in the shared file follow the inventory's value.
    assert templated(REPO / "inventories" / env_name, "{{ bf_secrets_generate }}") == "False"


def test_local_inventory_generates_and_binds_loopback() -> None:
    inventory = REPO / "inventories" / "local"
    assert templated(inventory, "{{ bf_bind_address }}") == "127.0.0.1"
    assert templated(inventory, "{{ bf_swarm_advertise_addr }}") == "127.0.0.1"
    assert templated(inventory, "{{ bf_secrets_generate }}") == "True"
    assert templated(inventory, "{{ bf_provision_firewall_enabled }}") == "False"
    assert templated(inventory, "{{ bf_docker_manage_daemon }}") == "False"


def test_own_file_beats_shared_file(tmp_path: Path) -> None:
    inventory = copy_inventory("local", tmp_path / "inv")
    own = inventory / "group_vars" / "all" / "vars.yml"
    own.write_text(own.read_text() + "bf_stack_dir: /srv/elsewhere\nbf_https_port: 8443\n")
    assert templated(inventory, "{{ bf_stack_dir }}") == "/srv/elsewhere"
    # Values the shared file derives from another follow the inventory's own.
    assert templated(inventory, "{{ bf_provision_base_dir }}") == "/srv/elsewhere"
    assert templated(inventory, "{{ bf_https_port }}") == "8443"
    # A key the inventory does not set still comes from the shared file.
    assert templated(inventory, "{{ bf_pgadmin_port }}") == str(SHARED["bf_pgadmin_port"])


def test_credentials_dir_is_not_read_as_inventory(tmp_path: Path) -> None:
    inventory = copy_inventory("local", tmp_path / "inv")
    credentials = inventory / "credentials"
    credentials.mkdir()
    (credentials / "admin_password").write_text("NotAHostButASecret123\n")
    result = run(["ansible-inventory", "-i", str(inventory), "--list"])
    assert result.returncode == 0, result.stderr
    assert "NotAHostButASecret123" not in result.stdout + result.stderr


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_every_contract_group_is_there(env_name: str) -> None:
    result = run(["ansible-inventory", "-i", f"inventories/{env_name}", "--list", "--export"])
    groups = json.loads(result.stdout)
    children = set(groups["bf_docker_hosts"]["children"])
    # Empty groups (no workers on one host) are left out of the listing.
    assert children - {"bf_swarm_workers"} == {
        "bf_swarm_managers",
        "bf_edge",
        "bf_app",
        "bf_db_primary",
        "bf_backup",
        "bf_cache",
        "bf_admin",
    }
