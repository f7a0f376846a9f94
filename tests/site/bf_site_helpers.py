"""Helpers shared by the site tests: run Ansible from the repository like a user would.

Not a conftest.py: other test folders import their own ``conftest`` by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env() -> dict[str, str]:
    """Return the environment for Ansible commands: the repo's config, no shared fact cache.

    Returns:
        A copy of ``os.environ`` with the Ansible settings the tests rely on.
    """
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        # Facts cached by a real deploy must not leak into (or be written by) the tests.
        ANSIBLE_CACHE_PLUGIN="memory",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run an Ansible command from the repository root.

    Args:
        args: argv, its first element a tool from the virtualenv (e.g. ``ansible-playbook``).
        timeout: Seconds before the command counts as hung.

    Returns:
        The completed process with text stdout and stderr.
    """
    argv = [str(BIN / args[0]), *args[1:]]
    return subprocess.run(
        argv,
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def copy_inventory(env_name: str, dest: Path) -> Path:
    """Copy ``inventories/<env_name>`` to ``dest``, keeping the shared vars link working.

    The copy's ``000-shared.yml`` points at the repository's root ``group_vars/all/shared.yml``
    (absolute), so the copy loads exactly what the real inventory loads.

    Args:
        env_name: local, staging or prod.
        dest: Directory to create.

    Returns:
        ``dest``.
    """
    shutil.copytree(
        REPO / "inventories" / env_name,
        dest,
        symlinks=True,
        ignore=shutil.ignore_patterns("credentials"),
    )
    link = dest / "group_vars" / "all" / "000-shared.yml"
    link.unlink()
    link.symlink_to(REPO / "group_vars" / "all" / "shared.yml")
    return dest
