"""Fixtures of the unit tests of the project's Ansible plugins (plugins/): plain Python, no
playbook run."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from model_helpers import REPO, load_plugin, swarm_utils


@pytest.fixture(scope="session")
def bf_stack() -> ModuleType:
    return load_plugin("filter/bf_stack.py", "bf_stack_filter")


@pytest.fixture(scope="session")
def bf_manifest() -> ModuleType:
    return load_plugin("filter/bf_manifest.py", "bf_manifest_filter")


@pytest.fixture(scope="session")
def bf_checks() -> ModuleType:
    return load_plugin("filter/bf_checks.py", "bf_checks_filter")


@pytest.fixture(scope="session")
def bf_swarm() -> ModuleType:
    return swarm_utils


@pytest.fixture(scope="session")
def manifests() -> list[dict[str, Any]]:
    """The real app tree's manifests, as the bf_manifests lookup reads them."""
    lookup = load_plugin("lookup/bf_manifests.py", "bf_manifests_lookup")
    return lookup.read_manifests(REPO / "app")
