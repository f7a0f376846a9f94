#!/usr/bin/python
"""Ansible module: wait until the services of a stack run the release that was deployed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bf_swarm_wait
short_description: Wait, with a bound, until a stack's services converge on their release
description:
  - Polls the swarm until every named service runs its desired number of tasks, each of the
    release the deploy asked for (the C(io.backend-framework.release) label), with no update in
    progress. A task counts as running only once its healthcheck passes.
  - Fails at once when the engine rolled a service back (its update failed), and after
    O(timeout) seconds otherwise, naming each service that is not there yet, its task errors and
    the last log lines of its tasks.
  - Run it on a swarm manager. It changes nothing.
options:
  stack:
    description: The stack name (C(docker stack deploy)'s).
    type: str
    required: true
  releases:
    description: Release per service (short name, without the stack prefix) to wait for.
    type: dict
    required: true
  timeout:
    description: Seconds to wait before failing.
    type: int
    default: 300
  interval:
    description: Seconds between two polls.
    type: int
    default: 2
  log_lines:
    description: Log lines of each stuck service shown when it fails.
    type: int
    default: 30
  report_only:
    description: Only report the state of each service now (its C(release) is the one its spec
      names); never wait, never fail.
    type: bool
    default: false
extends_documentation_fragment:
  - community.docker.docker.api_documentation
"""

RETURN = r"""
releases:
  description: The release each service's spec names now (None for a missing service).
  returned: success
  type: dict
services:
  description: The last summary of each service (state, running, desired, release, update).
  returned: always
  type: list
  elements: dict
"""

import time  # noqa: E402

from ansible.module_utils.bf_swarm import (  # noqa: E402
    api_filters,
    demux_logs,
    describe,
    failed_tasks,
    service_state,
)
from ansible_collections.community.docker.plugins.module_utils._api.errors import (  # noqa: E402
    APIError,
    NotFound,
)
from ansible_collections.community.docker.plugins.module_utils.common_api import (  # noqa: E402
    AnsibleDockerClient,
)


def _logs(client: AnsibleDockerClient, service: str, lines: int) -> str:
    try:
        raw = client.get_binary(
            "/services/{0}/logs", service, params={"stdout": 1, "stderr": 1, "tail": lines}
        )
    except (APIError, NotFound) as exc:
        return f"(no logs: {exc})"
    return demux_logs(raw)


def _task_logs(client: AnsibleDockerClient, task: dict, lines: int) -> str:
    try:
        raw = client.get_binary(
            "/tasks/{0}/logs", task["ID"], params={"stdout": 1, "stderr": 1, "tail": lines}
        )
    except (APIError, NotFound):
        raw = b""
    logs = demux_logs(raw)
    if logs.strip():
        return logs
    # The swarm's log broker sometimes answers nothing for a task that just ended; the
    # container's own logs are still there when it ran on this node.
    container = task.get("Status", {}).get("ContainerStatus", {}).get("ContainerID")
    if not container:
        return ""
    try:
        raw = client.get_binary(
            "/containers/{0}/logs", container, params={"stdout": 1, "stderr": 1, "tail": lines}
        )
    except (APIError, NotFound):
        return ""
    return demux_logs(raw)


def _failure_logs(client: AnsibleDockerClient, name: str, tasks: list[dict], lines: int) -> str:
    """The last log lines of the first failed task that logged anything, else the service's."""
    for task in tasks[:3]:
        logs = _task_logs(client, task, lines)
        if logs.strip():
            which = f"the failed task {task['ID'][:12]} of {name}"
            return f"--- last {lines} log lines of {which}:\n{logs}"
    return f"--- last {lines} log lines of {name}:\n" + _logs(client, name, lines)


def _poll(client: AnsibleDockerClient, stack: str, releases: dict[str, str]) -> list[dict]:
    states = []
    for short, release in sorted(releases.items()):
        name = f"{stack}_{short}"
        try:
            service = client.get_json("/services/{0}", name)
        except NotFound:
            states.append(
                {
                    "name": name,
                    "state": "pending",
                    "running": 0,
                    "desired": 1,
                    "release": None,
                    "update": "",
                    "message": "the service does not exist",
                    "errors": [],
                }
            )
            continue
        tasks = client.get_json("/tasks", params={"filters": api_filters(service=[service["ID"]])})
        state = service_state(service, tasks, release)
        # Kept out of the returned facts: only the failure message reads it.
        state["_failed_tasks"] = failed_tasks(tasks, release)
        states.append(state)
    return states


def main() -> None:
    """Run the module."""
    client = AnsibleDockerClient(
        argument_spec={
            "stack": {"type": "str", "required": True},
            "releases": {"type": "dict", "required": True},
            "timeout": {"type": "int", "default": 300},
            "interval": {"type": "int", "default": 2},
            "log_lines": {"type": "int", "default": 30},
            "report_only": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = client.module.params
    deadline = time.monotonic() + params["timeout"]
    try:
        while True:
            states = _poll(client, params["stack"], params["releases"])
            failed = [s for s in states if s["state"] == "failed"]
            done = all(s["state"] == "converged" for s in states)
            if params["report_only"] or done or failed or time.monotonic() >= deadline:
                break
            time.sleep(params["interval"])
    except APIError as exc:
        client.fail(f"Cannot read the services of {params['stack']}: {exc}")
    ended = {s["name"]: s.pop("_failed_tasks", []) for s in states}
    if done or params["report_only"]:
        client.module.exit_json(
            changed=False,
            services=states,
            releases={s["name"][len(params["stack"]) + 1 :]: s["release"] for s in states},
        )
    rolled = [s for s in states if s["state"] == "rolling_back"]
    stuck = failed or [s for s in states if s["state"] != "converged"]
    logs = "\n".join(
        _failure_logs(client, s["name"], ended[s["name"]], params["log_lines"]) for s in stuck
    )
    if failed:
        why = "rolled back"
    elif rolled:
        why = f"rolling back, not done after {params['timeout']}s"
    else:
        why = f"not converged after {params['timeout']}s"
    client.fail(
        f"The stack {params['stack']} is {why}:\n{describe(stuck)}\n{logs}",
        services=states,
    )


if __name__ == "__main__":
    main()
