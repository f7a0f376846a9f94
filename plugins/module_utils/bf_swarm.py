"""Helpers the bf_swarm_* modules share: Engine API reads of services, tasks and their logs.

The modules talk to the engine through community.docker's own API client (common_api), so the
managers need no Docker SDK for them. Everything here is a pure function of API answers except
the few calls that fetch them, so the logic is unit-tested without an engine.
"""

from __future__ import annotations

import json
import struct
from typing import Any

# The label bf_stack_compose puts on every service and its containers: a hash of the rendered
# service definition, so a task tells which release it runs.
RELEASE_LABEL = "io.backend-framework.release"
STACK_LABEL = "com.docker.stack.namespace"
# Task states after which a task never runs again.
TERMINAL_STATES = ("complete", "failed", "shutdown", "rejected", "orphaned", "remove")
# UpdateStatus states of a service whose update is still moving.
UPDATING_STATES = ("updating", "rollback_started")


def demux_logs(raw: bytes) -> str:
    """Decode the Engine's multiplexed log stream (8-byte frame headers) to text.

    Args:
        raw: The body of GET /services/{id}/logs (or /containers/{id}/logs) without a TTY.

    Returns:
        stdout and stderr interleaved, as the frames came.
    """
    chunks = []
    offset = 0
    while offset + 8 <= len(raw):
        stream, size = struct.unpack(">BxxxL", raw[offset : offset + 8])
        if stream not in (0, 1, 2):
            # Not multiplexed after all (a TTY): the rest is plain text.
            chunks.append(raw[offset:])
            offset = len(raw)
            break
        chunks.append(raw[offset + 8 : offset + 8 + size])
        offset += 8 + size
    chunks.append(raw[offset:])
    return b"".join(chunks).decode("utf-8", errors="replace")


def api_filters(**filters: list[str]) -> str:
    """The ``filters`` query parameter of the Engine API."""
    return json.dumps({key: list(values) for key, values in filters.items()})


def task_release(task: dict[str, Any]) -> str | None:
    """The release label a task's container carries."""
    labels = task.get("Spec", {}).get("ContainerSpec", {}).get("Labels") or {}
    return labels.get(RELEASE_LABEL)


def failed_tasks(tasks: list[dict[str, Any]], release: str | None) -> list[dict[str, Any]]:
    """The tasks of ``release`` that did not run to the end, the likeliest to say why first.

    Their own logs say why a release was rolled back; the service's logs mix in the old tasks,
    which kept serving (and logging) meanwhile. A task that failed or was rejected carries the
    error; one merely shut down (the engine stops the rest when it rolls back) may have logged
    nothing. Newest first within each.
    """
    mine = [
        t
        for t in tasks
        if (release is None or task_release(t) == release)
        and t.get("Status", {}).get("State") in ("failed", "rejected", "shutdown", "complete")
    ]
    mine.sort(key=lambda t: t.get("Status", {}).get("Timestamp", ""), reverse=True)
    mine.sort(key=lambda t: t.get("Status", {}).get("State") not in ("failed", "rejected"))
    return mine


def service_state(
    service: dict[str, Any], tasks: list[dict[str, Any]], release: str | None
) -> dict[str, Any]:
    """Summarise one service: converged, still moving, or failed.

    Args:
        service: GET /services/{id}.
        tasks: GET /tasks?filters={"service": [id]}.
        release: The release this deploy asked for (None: any).

    Returns:
        ``{"name", "state": converged|pending|rolling_back|failed, "running", "desired", "release",
        "update", "message", "errors"}``.
    """
    spec = service.get("Spec", {})
    name = spec.get("Name", service.get("ID", "?"))
    current = (spec.get("Labels") or {}).get(RELEASE_LABEL)
    update = service.get("UpdateStatus") or {}
    update_state = update.get("State", "")
    wanted = [t for t in tasks if t.get("DesiredState") == "running"]
    mode = spec.get("Mode", {})
    desired = mode["Replicated"].get("Replicas", 1) if "Replicated" in mode else len(wanted)
    running = [
        t
        for t in wanted
        if t.get("Status", {}).get("State") == "running"
        and (release is None or task_release(t) == release)
    ]
    # The newest first: a pending task's "no suitable node", a failed one's exit code.
    newest = sorted(tasks, key=lambda t: t.get("Status", {}).get("Timestamp", ""), reverse=True)
    errors: list[str] = []
    for task in newest:
        err = task.get("Status", {}).get("Err")
        if err and err not in errors:
            errors.append(err)
    errors = errors[:5]
    summary = {
        "name": name,
        "running": len(running),
        "desired": desired,
        "release": current,
        "update": update_state,
        "message": update.get("Message", ""),
        "errors": errors,
    }
    if release is not None and current != release:
        rolled_back = update_state.startswith("rollback")
        summary["state"] = "failed" if rolled_back else "pending"
        if update_state == "rollback_started":
            # Still putting the old tasks back: wait for it, so that a failed deploy returns
            # with the previous release serving again, not half-way.
            summary["state"] = "rolling_back"
        if rolled_back:
            summary["message"] = (
                f"the engine rolled {name} back from release {release} to {current}: "
                f"{update.get('Message', '')}"
            )
        return summary
    if update_state == "paused":
        summary["state"] = "failed"
        return summary
    moving = update_state in UPDATING_STATES
    done = len(running) >= desired and len(running) == len(wanted)
    summary["state"] = "converged" if done and not moving else "pending"
    return summary


def describe(states: list[dict[str, Any]]) -> str:
    """One line per service that is not converged, for a failure message."""
    lines = []
    for s in states:
        if s["state"] == "converged":
            continue
        line = f"{s['name']}: {s['running']}/{s['desired']} tasks of the release running"
        if s["update"]:
            line += f", update {s['update']}"
        if s["message"]:
            line += f" ({s['message']})"
        if s["errors"]:
            line += "; task errors: " + "; ".join(s["errors"])
        lines.append(line)
    return "\n".join(lines)
