"""Inventory value checks (plugins/filter/bf_checks.py)."""

from __future__ import annotations

from types import ModuleType

import pytest


@pytest.mark.parametrize("path", ["/opt/backend-framework", "/srv/shop", "/var/tmp/bf-x/stack"])
def test_a_directory_of_its_own_is_fine(bf_checks: ModuleType, path: str) -> None:
    assert bf_checks.bf_dir_problem(path) == ""


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "system directory"),
        ("/etc", "inside the system directory /etc"),
        ("/etc/shop", "inside the system directory /etc"),
        ("/usr/local/shop", "inside the system directory /usr"),
        ("/opt", "system directory"),
        ("/var/lib", "system directory"),
        ("relative/dir", "absolute path"),
        ("/opt/shop/", "normalised, as /opt/shop"),
        ("/opt/../etc", "normalised, as /etc"),
        ("/opt//shop", "normalised"),
        ("/opt/my shop", "spaces"),
        ("", "non-empty"),
        (None, "non-empty"),
    ],
)
def test_a_system_or_malformed_directory_is_refused(
    bf_checks: ModuleType, path: object, why: str
) -> None:
    assert why in bf_checks.bf_dir_problem(path)
