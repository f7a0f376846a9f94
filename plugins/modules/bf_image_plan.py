#!/usr/bin/python
"""Ansible module: derive every image's content tag and say which images are missing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bf_image_plan
short_description: Content tags of the stack's images, and which of them the engine lacks
description:
  - Walks the image graph level by level. An image's tag is the first 12 hex digits of the
    SHA-256 of its context hash, its build arguments (parent image references) and its parents'
    image IDs, so the same inputs always give the same tag and a changed input a new one.
  - An image whose parents are not all on the engine cannot be tagged yet; it is reported as
    missing with a null reference (build its parents, then plan again).
  - Run it on the build host. It changes nothing.
options:
  images:
    description: Each image's C(name), C(level) and C(parents) (build argument -> image name).
    type: list
    elements: dict
    required: true
  contexts:
    description: Context hash per image name (the bf_tree_hash lookup).
    type: dict
    required: true
  base_ref:
    description: Reference of the base image (C(base) in C(parents)).
    type: str
    required: true
  namespace:
    description: Repository part of every reference, <namespace>/<name>:<tag>.
    type: str
    required: true
extends_documentation_fragment:
  - community.docker.docker.api_documentation
"""

RETURN = r"""
refs:
  description: Reference per image (null while a parent is missing).
  type: dict
  returned: always
ids:
  description: Image ID per image the engine has.
  type: dict
  returned: always
args:
  description: Build arguments per image that could be tagged.
  type: dict
  returned: always
missing:
  description: Images the engine lacks, in build order.
  type: list
  returned: always
"""

import hashlib  # noqa: E402
import json  # noqa: E402

from ansible_collections.community.docker.plugins.module_utils._api.errors import (  # noqa: E402
    NotFound,
)
from ansible_collections.community.docker.plugins.module_utils.common_api import (  # noqa: E402
    AnsibleDockerClient,
)


def content_tag(context: str, args: dict[str, str], parent_ids: dict[str, str]) -> str:
    """The tag of an image: its inputs, serialised as Ansible's to_json(sort_keys=True)."""
    key = {"context": context, "args": args, "parent_ids": parent_ids}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def plan(images: list[dict], contexts: dict[str, str], base_ref: str, namespace: str, lookup):
    """Tag every image whose parents exist; lookup(ref) gives an image ID or None."""
    refs: dict[str, str | None] = {"base": base_ref}
    ids: dict[str, str] = {}
    args_of: dict[str, dict[str, str]] = {}
    missing: list[str] = []
    base_id = lookup(base_ref)
    if base_id:
        ids["base"] = base_id
    else:
        missing.append("base")
    for image in sorted(images, key=lambda i: (i["level"], i["name"])):
        name, parents = image["name"], image.get("parents") or {}
        if any(parent not in ids for parent in parents.values()):
            refs[name] = None
            missing.append(name)
            continue
        args = {arg: refs[parent] for arg, parent in parents.items()}
        parent_ids = {arg: ids[parent] for arg, parent in parents.items()}
        refs[name] = f"{namespace}/{name}:{content_tag(contexts[name], args, parent_ids)}"
        args_of[name] = args
        found = lookup(refs[name])
        if found:
            ids[name] = found
        else:
            missing.append(name)
    return {"refs": refs, "ids": ids, "args": args_of, "missing": missing}


def main() -> None:
    """Run the module."""
    client = AnsibleDockerClient(
        argument_spec={
            "images": {"type": "list", "elements": "dict", "required": True},
            "contexts": {"type": "dict", "required": True},
            "base_ref": {"type": "str", "required": True},
            "namespace": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    params = client.module.params

    def lookup(ref: str) -> str | None:
        try:
            return client.get_json("/images/{0}/json", ref)["Id"]
        except NotFound:
            return None

    result = plan(
        params["images"], params["contexts"], params["base_ref"], params["namespace"], lookup
    )
    client.module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
