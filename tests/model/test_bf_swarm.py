"""What the swarm modules make of the Engine's answers (plugins/module_utils/bf_swarm.py)."""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

LABEL = "io.backend-framework.release"


def _task(release: str, state: str, desired: str = "running", err: str = "") -> dict[str, Any]:
    return {
        "DesiredState": desired,
        "Status": {"State": state, "Err": err, "Timestamp": "2026-12-03T10:00:00Z"},
        "Spec": {"ContainerSpec": {"Labels": {LABEL: release}}},
    }


def _service(release: str, replicas: int | None = 2, update: str = "") -> dict[str, Any]:
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}
    service: dict[str, Any] = {"ID": "s1", "Spec": {"Name": "shop_api", "Labels": {LABEL: release},
                                                 "Mode": mode}}  # fmt: skip
    if update:
        service["UpdateStatus"] = {"State": update, "Message": "update went wrong"}
    return service


def test_converged_when_every_wanted_task_runs_the_release(bf_swarm: ModuleType) -> None:
    tasks = [_task("new", "running"), _task("new", "running"), _task("old", "shutdown", "shutdown")]
    state = bf_swarm.service_state(_service("new"), tasks, "new")
    assert state["state"] == "converged" and state["running"] == 2


def test_pending_while_an_old_task_still_serves(bf_swarm: ModuleType) -> None:
    tasks = [_task("new", "running"), _task("old", "running"), _task("new", "starting")]
    assert bf_swarm.service_state(_service("new", update="updating"), tasks, "new")["state"] == (
        "pending"
    )
    # Even with the update marked done, a task of the old release that runs is not converged.
    state = bf_swarm.service_state(_service("new"), tasks[:2], "new")
    assert state["state"] == "pending" and state["running"] == 1


def test_failed_when_the_engine_rolled_back(bf_swarm: ModuleType) -> None:
    tasks = [_task("old", "running"), _task("new", "failed", "shutdown", "task: non-zero exit (3)")]
    state = bf_swarm.service_state(_service("old", update="rollback_completed"), tasks, "new")
    assert state["state"] == "failed"
    assert "rolled shop_api back from release new to old" in state["message"]
    assert "task: non-zero exit (3)" in bf_swarm.describe([state])


def test_rolling_back_is_waited_for(bf_swarm: ModuleType) -> None:
    tasks = [_task("old", "running"), _task("new", "failed", "shutdown", "task: non-zero exit (3)")]
    state = bf_swarm.service_state(_service("old", update="rollback_started"), tasks, "new")
    assert state["state"] == "rolling_back"


def test_the_failed_tasks_of_the_release_come_newest_failure_first(bf_swarm: ModuleType) -> None:
    older = _task("new", "failed", "shutdown", "first")
    newer = _task("new", "failed", "shutdown", "second")
    newer["Status"]["Timestamp"] = "2026-12-03T10:00:09Z"
    # Stopped by the rollback, after the failures: it may have logged nothing, so it comes last.
    stopped = _task("new", "shutdown", "shutdown")
    stopped["Status"]["Timestamp"] = "2026-12-03T10:00:20Z"
    tasks = [_task("old", "running"), older, stopped, newer, _task("old", "shutdown", "shutdown")]
    assert bf_swarm.failed_tasks(tasks, "new") == [newer, older, stopped]
    assert bf_swarm.failed_tasks([_task("old", "running")], "new") == []


def test_global_services_want_one_task_per_eligible_node(bf_swarm: ModuleType) -> None:
    tasks = [_task("r", "running"), _task("r", "pending", err="no suitable node")]
    state = bf_swarm.service_state(_service("r", replicas=None), tasks, "r")
    assert state["state"] == "pending" and state["desired"] == 2
    assert "no suitable node" in bf_swarm.describe([state])


def test_any_release_when_none_is_asked_for(bf_swarm: ModuleType) -> None:
    state = bf_swarm.service_state(_service("x", replicas=1), [_task("x", "running")], None)
    assert state["state"] == "converged"


def test_multiplexed_logs_are_decoded(bf_swarm: ModuleType) -> None:
    frames = b"".join(
        struct.pack(">BxxxL", stream, len(text)) + text
        for stream, text in ((1, b"out line\n"), (2, b"err line\n"))
    )
    assert bf_swarm.demux_logs(frames) == "out line\nerr line\n"
    assert bf_swarm.demux_logs(b"plain tty text") == "plain tty text"
