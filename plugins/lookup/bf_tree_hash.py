"""Lookup plugin: the content hash of a build context on the controller.

``query('bf_tree_hash', dir1, dir2, ...)`` returns one SHA-256 per folder: the hash of the
``sha256sum``-style listing (``<hex>  ./<path>``, one line per regular file, in byte order) of
every file below it except ``.wheels/``, ``__pycache__/`` and ``*.pyc`` (what never goes into
an image's context). It is the same value as
``find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`` on a synced copy, so the image
tags bf_images derives from it are known before anything is copied to the build host.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = """
name: bf_tree_hash
short_description: Content hash of a build context folder on the controller
options:
  _terms:
    description: Folders on the controller.
    required: true
"""

SKIP_DIRS = (".wheels", "__pycache__")


def tree_hash(root: str | Path) -> str:
    """Hash every file of a context folder, as the listing of ``sha256sum`` would.

    Args:
        root: The folder.

    Returns:
        64 hex digits.

    Raises:
        AnsibleLookupError: When root is not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise AnsibleLookupError(f"bf_tree_hash: {root} is not a folder on the controller")
    paths = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            path = Path(dirpath) / name
            if name.endswith(".pyc") or path.is_symlink() or not path.is_file():
                continue
            paths.append("./" + path.relative_to(base).as_posix())
    listing = []
    for rel in sorted(paths, key=lambda p: p.encode()):
        digest = hashlib.sha256((base / rel).read_bytes()).hexdigest()
        listing.append(f"{digest}  {rel}\n")
    return hashlib.sha256("".join(listing).encode()).hexdigest()


class LookupModule(LookupBase):
    """``query('bf_tree_hash', folder, ...)``."""

    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        """Return the hash of each folder in terms."""
        return [tree_hash(str(term)) for term in terms]
