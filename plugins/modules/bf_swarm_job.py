#!/usr/bin/python
"""Ansible module: run a one-off task in the swarm and report its exit code and output."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bf_swarm_job
short_description: Run a one-off swarm task (a migration, a bootstrap command) and wait for it
description:
  - Creates a replicated service of one task that never restarts, from an Engine API service
    spec (the bf_stack_job_spec filter builds it from a service of the stack file, so the task
    has that service's image, environment, secrets, configs, networks and placement), waits
    until the task ends, collects its output and removes the service again.
  - Secret, config and network names in the spec are resolved to their IDs here.
  - Fails when the task fails, cannot start or does not end within O(timeout) seconds, with its
    state, error and output.
  - Run it on a swarm manager.
options:
  spec:
    description: The service spec (POST /services/create body); C(Name) names the job.
    type: dict
    required: true
  timeout:
    description: Seconds the task may take.
    type: int
    default: 600
  changed_regex:
    description: The task changed something when its output matches this regular expression.
      Without it, a successful job reports changed.
    type: str
extends_documentation_fragment:
  - community.docker.docker.api_documentation
"""

RETURN = r"""
rc:
  description: Exit code of the task's container (-1 when it never ran).
  returned: always
  type: int
stdout:
  description: The task's output (stdout and stderr).
  returned: always
  type: str
state:
  description: The task's final state (complete, failed, rejected...).
  returned: always
  type: str
"""

import copy  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.bf_swarm import TERMINAL_STATES, api_filters, demux_logs  # noqa: E402
from ansible_collections.community.docker.plugins.module_utils._api.errors import (  # noqa: E402
    APIError,
    NotFound,
)
from ansible_collections.community.docker.plugins.module_utils.common_api import (  # noqa: E402
    AnsibleDockerClient,
)


def _id_by_name(client: AnsibleDockerClient, kind: str, name: str) -> str:
    """The ID of the secret, config or network with exactly this name."""
    found = client.get_json(f"/{kind}", params={"filters": api_filters(name=[name])})
    for item in found:
        item_name = item.get("Spec", {}).get("Name", item.get("Name"))
        if item_name == name:
            # Networks say "Id", secrets and configs "ID".
            return item.get("ID") or item["Id"]
    client.fail(f"bf_swarm_job: no {kind[:-1]} named {name} in the swarm")
    raise AssertionError("unreachable")


def _resolve(client: AnsibleDockerClient, spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    template = spec["TaskTemplate"]
    container = template["ContainerSpec"]
    for ref in container.get("Secrets", []):
        ref["SecretID"] = _id_by_name(client, "secrets", ref["SecretName"])
    for ref in container.get("Configs", []):
        ref["ConfigID"] = _id_by_name(client, "configs", ref["ConfigName"])
    for net in template.get("Networks", []):
        net["Target"] = _id_by_name(client, "networks", net["Target"])
    return spec


def _remove(client: AnsibleDockerClient, name: str) -> None:
    try:
        client.delete_call("/services/{0}", name)
    except NotFound:
        return


def _wait(client: AnsibleDockerClient, service_id: str, timeout: int) -> dict:
    deadline = time.monotonic() + timeout
    task: dict = {}
    while time.monotonic() < deadline:
        tasks = client.get_json("/tasks", params={"filters": api_filters(service=[service_id])})
        if tasks:
            task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
            if task.get("Status", {}).get("State") in TERMINAL_STATES:
                return task
        time.sleep(1)
    return task


def main() -> None:
    """Run the module."""
    client = AnsibleDockerClient(
        argument_spec={
            "spec": {"type": "dict", "required": True},
            "timeout": {"type": "int", "default": 600},
            "changed_regex": {"type": "str"},
        },
        supports_check_mode=False,
    )
    params = client.module.params
    name = params["spec"]["Name"]
    try:
        # A job left over from an interrupted run would block the name.
        _remove(client, name)
        spec = _resolve(client, params["spec"])
        created = client.post_json_to_json("/services/create", data=spec)
        task = _wait(client, created["ID"], params["timeout"])
        raw = client.get_binary(
            "/services/{0}/logs", created["ID"], params={"stdout": 1, "stderr": 1, "tail": "all"}
        )
        output = demux_logs(raw)
    except APIError as exc:
        _remove(client, name)
        client.fail(f"bf_swarm_job {name}: the engine refused: {exc}")
    _remove(client, name)
    status = task.get("Status", {})
    state = status.get("State", "never scheduled")
    rc = status.get("ContainerStatus", {}).get("ExitCode", -1)
    result = {"rc": rc, "stdout": output, "state": state}
    if state != "complete" or rc != 0:
        why = status.get("Err") or status.get("Message") or "no error reported"
        if state not in TERMINAL_STATES:
            why = f"still {state} after {params['timeout']}s ({why})"
        client.fail(
            f"The job {name} did not succeed: {state}, exit {rc}: {why}\n{output}", **result
        )
    changed = True
    if params["changed_regex"]:
        changed = re.search(params["changed_regex"], output) is not None
    client.module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
