#!/usr/bin/python
"""Ansible module: record the stack files a deploy ran, and plan a rollback to one of them."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bf_releases
short_description: Kept releases of a stack (record after a deploy, plan a rollback)
description:
  - C(state=record) copies the deployed stack file into O(path) as C(<id>.yml) and adds it to
    C(index.json), unless it is the newest release already; keeps the newest O(keep).
  - C(state=plan) writes to O(dest) the stack file that returns the stack, or one O(service),
    to the release before the newest one or to O(to).
  - C(state=list) only reports the kept releases.
options:
  path:
    description: Directory of the kept releases on the manager.
    type: path
    required: true
  state:
    description: What to do.
    type: str
    choices: [record, plan, list]
    default: list
  src:
    description: The stack file just deployed (C(state=record)).
    type: path
  keep:
    description: Releases to keep (C(state=record)).
    type: int
    default: 5
  service:
    description: Return only this service (C(state=plan)); the others stay as deployed.
    type: str
  to:
    description: A release id, or one of the service's release labels (C(state=plan)).
    type: str
  dest:
    description: >-
      Where C(state=plan) writes the stack file to deploy: the stack file in use, which a
      service rollback changes for that service only.
    type: path
"""

RETURN = r"""
releases:
  description: The kept releases, newest first (id, time, hash, services, images).
  returned: always
  type: list
kept_images:
  description: Every image a kept release names.
  returned: always
  type: list
released_images:
  description: The images of the releases this record dropped that no kept release names.
  returned: state=record
  type: list
target:
  description: The id of the release the plan returns to.
  returned: state=plan
  type: str
services:
  description: The release of every service in the planned stack file.
  returned: state=plan
  type: dict
"""

import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.bf_releases import (  # noqa: E402
    PlanError,
    document_hash,
    kept_images,
    plan,
    record,
    released_images,
)

try:
    import yaml  # noqa: E402

    HAS_YAML = True
except ImportError:  # pragma: no cover - bf_docker installs python3-yaml
    HAS_YAML = False


def _write(path: str, text: str, mode: int = 0o640) -> None:
    """Write atomically: a reader never sees half an index."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bf-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_index(path: str) -> list[dict]:
    index_file = os.path.join(path, "index.json")
    if not os.path.exists(index_file):
        return []
    with open(index_file) as handle:
        return json.load(handle)


def _load_document(path: str, record_id: str) -> dict:
    with open(os.path.join(path, f"{record_id}.yml")) as handle:
        return yaml.safe_load(handle)


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["record", "plan", "list"], "default": "list"},
            "src": {"type": "path"},
            "keep": {"type": "int", "default": 5},
            "service": {"type": "str"},
            "to": {"type": "str"},
            "dest": {"type": "path"},
        },
        required_if=[("state", "record", ["src"]), ("state", "plan", ["dest"])],
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg="bf_releases needs PyYAML on the manager (python3-yaml)")
    params = module.params
    path = params["path"]
    try:
        index = _load_index(path)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"Cannot read the kept releases in {path}: {exc}")
    changed = False
    result: dict = {}
    if params["state"] == "record":
        with open(params["src"]) as handle:
            text = handle.read()
        document = yaml.safe_load(text)
        now = datetime.datetime.now(datetime.UTC)
        record_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + document_hash(document)[:8]
        old_index = index
        try:
            index, changed, dropped = record(
                index, document, record_id, now.isoformat(timespec="seconds"), params["keep"]
            )
        except PlanError as exc:
            module.fail_json(msg=str(exc))
        result = {"released_images": released_images(old_index, index)}
        if changed and not module.check_mode:
            os.makedirs(path, mode=0o750, exist_ok=True)
            if index and index[-1]["id"] == record_id:
                _write(os.path.join(path, f"{record_id}.yml"), text)
            _write(os.path.join(path, "index.json"), json.dumps(index, indent=2) + "\n")
            for old in dropped:
                old_file = os.path.join(path, f"{old}.yml")
                if os.path.exists(old_file):
                    os.unlink(old_file)
    elif params["state"] == "plan":
        try:
            documents = {e["id"]: _load_document(path, e["id"]) for e in index}
            base = None
            if os.path.exists(params["dest"]):
                with open(params["dest"]) as handle:
                    base = yaml.safe_load(handle)
            planned = plan(index, documents, params["service"], params["to"], base)
        except PlanError as exc:
            module.fail_json(msg=f"Cannot plan the rollback: {exc}")
        except OSError as exc:
            module.fail_json(msg=f"A kept release is unreadable: {exc}")
        text = yaml.safe_dump(planned["document"], sort_keys=False, default_flow_style=False)
        current = None
        if os.path.exists(params["dest"]):
            with open(params["dest"]) as handle:
                current = handle.read()
        changed = current != text
        if changed and not module.check_mode:
            _write(params["dest"], text)
        result = {"target": planned["target"], "services": planned["releases"]}
    module.exit_json(
        changed=changed,
        releases=list(reversed(index)),
        kept_images=kept_images(index),
        **result,
    )


if __name__ == "__main__":
    main()
