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


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "10.0.2.15", "255.255.255.255"])  # noqa: S104
def test_an_ipv4_address_is_fine(bf_checks: ModuleType, address: str) -> None:
    assert bf_checks.bf_ipv4_problem(address) == ""


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("300.1.1.1", "is not an IPv4 address"),
        ("10.0.0", "is not an IPv4 address"),
        ("010.0.0.1", "is not an IPv4 address"),
        ("::1", "is not an IPv4 address"),
        ("host.example.com", "is not an IPv4 address"),
        (" 10.0.0.1", "is not an IPv4 address"),
        ("", "must be an IPv4 address"),
        (None, "must be an IPv4 address"),
        (10, "must be an IPv4 address"),
    ],
)
def test_a_malformed_ipv4_address_is_refused(
    bf_checks: ModuleType, value: object, why: str
) -> None:
    assert why in bf_checks.bf_ipv4_problem(value)
