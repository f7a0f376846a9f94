"""The swarm a converge must leave on the multihost scenario's hosts, in the group contract of
inventory/hosts.yml: every bf_docker_hosts host is a node of one swarm, the bf_swarm_managers are
its managers and nothing else is, and each node advertises its bf_swarm_advertise_addr."""

from __future__ import annotations

import json
from typing import Any

import pytest

# The swarm's own words for a node that is up and a manager that is in the Raft quorum.
NODE_READY = "Ready"
MANAGER_STATES = ("Leader", "Reachable")


def _groups(host: Any) -> dict[str, set[str]]:
    # Testinfra lists a host once per child group it is in: bf_docker_hosts repeats names.
    return {name: set(hosts) for name, hosts in host.ansible.get_variables()["groups"].items()}


@pytest.fixture(scope="module")
def swarm_info(host: Any) -> dict[str, Any]:
    """`docker info`'s Swarm section of this host's engine."""
    return json.loads(host.check_output("docker info --format '{{json .Swarm}}'"))


def test_host_is_an_active_node(host: Any, swarm_info: dict[str, Any]) -> None:
    assert swarm_info["LocalNodeState"] == "active", swarm_info.get("Error") or swarm_info


def test_host_advertises_its_address(host: Any, swarm_info: dict[str, Any]) -> None:
    expected = host.ansible.get_variables()["bf_swarm_advertise_addr"]
    assert swarm_info["NodeAddr"] == expected


def test_host_manages_the_swarm_only_if_it_is_a_manager(
    host: Any, swarm_info: dict[str, Any]
) -> None:
    name = host.ansible.get_variables()["inventory_hostname"]
    assert swarm_info["ControlAvailable"] is (name in _groups(host)["bf_swarm_managers"])


def test_manager_sees_every_host_as_a_ready_node(host: Any, swarm_info: dict[str, Any]) -> None:
    if not swarm_info.get("ControlAvailable"):
        pytest.skip("only a manager lists the swarm's nodes")
    groups = _groups(host)
    lines = host.check_output("docker node ls --format '{{json .}}'").splitlines()
    nodes = {node["Hostname"]: node for node in map(json.loads, lines)}
    assert set(nodes) == groups["bf_docker_hosts"]
    for name, node in nodes.items():
        assert node["Status"] == NODE_READY, node
        if name in groups["bf_swarm_managers"]:
            assert node["ManagerStatus"] in MANAGER_STATES, node
        else:
            assert node["ManagerStatus"] == "", node
