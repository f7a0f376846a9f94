"""Lookup plugin: read every app service manifest (``<app_dir>/<name>/service.yml``) once.

The manifests are the app half of the stack model (plugins/filter/bf_stack.py builds the rest);
``query('bf_manifests', app_dir)`` is the only place that finds and parses them, so no role keeps
its own glob. A file that is not valid YAML is returned with an ``error`` instead of failing the
lookup, so that the preflight can list every broken manifest in one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = """
name: bf_manifests
short_description: Read the service manifests of an app tree
description:
  - Returns one entry per C(<app_dir>/<folder>/service.yml), sorted by folder, with the keys
    C(folder), C(file) (C(<folder>/service.yml)), C(path), C(data) (the parsed YAML, or None) and
    C(error) (why it could not be parsed, or None).
options:
  _terms:
    description: The app tree on the controller (one term).
    required: true
"""


def read_manifests(app_dir: str | Path) -> list[dict[str, Any]]:
    """Read every ``<app_dir>/*/service.yml``.

    Args:
        app_dir: Folder with one sub-folder per app service.

    Returns:
        One dict per manifest, sorted by folder name.

    Raises:
        AnsibleLookupError: When app_dir is not a folder.
    """
    root = Path(app_dir)
    if not root.is_dir():
        raise AnsibleLookupError(
            f"bf_app_dir={app_dir} is not a folder on the controller: point it at the app tree."
        )
    found = []
    for path in sorted(root.glob("*/service.yml")):
        entry: dict[str, Any] = {
            "folder": path.parent.name,
            "file": f"{path.parent.name}/service.yml",
            "path": str(path),
            "data": None,
            "error": None,
        }
        try:
            entry["data"] = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            entry["error"] = " ".join(str(exc).split())
        found.append(entry)
    return found


class LookupModule(LookupBase):
    """``query('bf_manifests', app_dir)``."""

    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        """Return the manifests of the one app tree named in terms."""
        if len(terms) != 1:
            raise AnsibleLookupError("bf_manifests takes exactly one term: the app folder")
        return read_manifests(str(terms[0]))
