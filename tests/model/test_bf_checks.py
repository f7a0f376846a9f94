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


@pytest.mark.parametrize(
    "path", ["/usr/local/lib/docker/cli-plugins", "/root/.docker/cli-plugins", "/tmp/x/cli-plugins"]
)
def test_a_cli_plugin_directory_is_fine(bf_checks: ModuleType, path: str) -> None:
    assert bf_checks.bf_plugin_dir_problem(path) == ""


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/usr/local/bin", "named cli-plugins"),
        ("/", "named cli-plugins"),
        ("/etc", "named cli-plugins"),
        ("usr/local/lib/docker/cli-plugins", "absolute path"),
        ("/usr/local/lib/docker/cli-plugins/", "normalised, as /usr/local/lib/docker/cli-plugins"),
        ("/usr/lib/../../cli-plugins", "normalised, as /cli-plugins"),
        ("/opt/my plugins/cli-plugins", "spaces"),
        ("", "non-empty"),
    ],
)
def test_a_system_or_malformed_plugin_directory_is_refused(
    bf_checks: ModuleType, path: str, why: str
) -> None:
    assert why in bf_checks.bf_plugin_dir_problem(path)


@pytest.mark.parametrize(("value", "low", "high"), [(0, 0, 15), (15, 0, 15), ("7", 1, 100)])
def test_a_whole_number_in_range_is_fine(
    bf_checks: ModuleType, value: object, low: int, high: int
) -> None:
    assert bf_checks.bf_int_problem(value, low, high) == ""


# 1.5 and True are what `| int` would have let through as 1.
@pytest.mark.parametrize("value", [-1, 16, "16", 1.5, True, "ten", "", None, [1]])
def test_a_number_out_of_range_or_not_whole_is_refused(
    bf_checks: ModuleType, value: object
) -> None:
    assert bf_checks.bf_int_problem(value, 0, 15) == "it must be a whole number from 0 to 15"


@pytest.mark.parametrize(
    "policy",
    [
        {"parallelism": 1, "order": "start-first", "failure_action": "rollback",
         "monitor": "15s", "delay": "0s"},
        {"parallelism": 0, "order": "stop-first", "max_failure_ratio": 0.5, "delay": "1m30s"},
        {},
    ],
)  # fmt: skip
def test_a_swarm_update_policy_is_fine(bf_checks: ModuleType, policy: dict) -> None:
    assert bf_checks.bf_update_problem(policy) == ""


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        ("start-first", "must be a mapping"),
        ({"order": "start_first"}, "its order must be start-first or stop-first"),
        ({"failure_action": "retry"}, "its failure_action must be continue or pause or rollback"),
        ({"parallelism": -1}, "its parallelism must be a whole number from 0"),
        ({"parallelism": 1.5}, "its parallelism must be a whole number from 0"),
        ({"monitor": 15}, "its monitor must be a duration"),
        ({"delay": "5 s"}, "its delay must be a duration"),
        ({"max_failure_ratio": 2}, "its max_failure_ratio must be a number from 0 to 1"),
        ({"paralelism": 1}, "paralelism is not an update_config key"),
    ],
)
def test_a_malformed_update_policy_is_refused(
    bf_checks: ModuleType, policy: object, why: str
) -> None:
    assert why in bf_checks.bf_update_problem(policy)


@pytest.mark.parametrize("value", [r"\b(created|updated)\b", "Running upgrade"])
def test_a_regular_expression_is_fine(bf_checks: ModuleType, value: str) -> None:
    assert bf_checks.bf_regex_problem(value) == ""


@pytest.mark.parametrize(
    ("value", "why"),
    [("(created", "is not a regular expression"), ("", "non-empty"), (None, "non-empty")],
)
def test_a_malformed_regular_expression_is_refused(
    bf_checks: ModuleType, value: object, why: str
) -> None:
    assert why in bf_checks.bf_regex_problem(value)
