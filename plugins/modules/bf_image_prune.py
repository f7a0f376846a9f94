#!/usr/bin/python
"""Ansible module: remove, on one node, the images of releases the stack no longer keeps."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bf_image_prune
short_description: Untag the images of the releases a deploy stopped keeping, on one node
description:
  - Every deploy names content-tagged images (C(bf/api:<hash>)); without pruning, superseded
    tags pile up on every node. bf_releases reports the images of the releases it dropped that no
    kept release names; this removes those tags here, and the layers only they held. Nothing
    else goes, so an image this stack never deployed (another stack's on a shared engine, a
    build not deployed yet) is never touched. An image a container still uses (a stopped task
    kept in the swarm's task history) is left, reported in C(in_use); the engine frees it with
    the history.
options:
  images:
    description: Image references to remove.
    type: list
    elements: str
    required: true
"""

RETURN = r"""
removed:
  description: The tags removed.
  returned: always
  type: list
in_use:
  description: Tags kept because a container uses them.
  returned: always
  type: list
"""

from ansible_collections.community.docker.plugins.module_utils._api.errors import (  # noqa: E402
    APIError,
    NotFound,
)
from ansible_collections.community.docker.plugins.module_utils.common_api import (  # noqa: E402
    AnsibleDockerClient,
)


def present(images: list[dict], wanted: list[str]) -> list[str]:
    """The tags of ``wanted`` this node has (from a GET /images/json answer), sorted."""
    tags = {tag for image in images for tag in image.get("RepoTags") or []}
    return sorted(set(wanted) & tags)


def main() -> None:
    """Run the module."""
    client = AnsibleDockerClient(
        argument_spec={"images": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    wanted = client.module.params["images"]
    try:
        images = client.get_json("/images/json") if wanted else []
    except APIError as exc:
        client.fail(f"Cannot list the images: {exc}")
    removed: list[str] = []
    in_use: list[str] = []
    for tag in present(images, wanted):
        if client.module.check_mode:
            removed.append(tag)
            continue
        try:
            client.delete_call("/images/{0}", tag)
            removed.append(tag)
        except NotFound:
            continue
        except APIError as exc:
            # 409: a container (a stopped task the swarm keeps in its history) still uses it.
            if exc.status_code == 409:
                in_use.append(tag)
                continue
            client.fail(f"Cannot remove {tag}: {exc}")
    client.module.exit_json(changed=bool(removed), removed=removed, in_use=in_use)


if __name__ == "__main__":
    main()
