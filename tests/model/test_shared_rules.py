"""What the preflight accepts for each shared variable (playbooks/vars/shared_rules.yml)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from model_helpers import REPO

RULES: dict[str, dict[str, Any]] = yaml.safe_load(
    (REPO / "playbooks/vars/shared_rules.yml").read_text()
)["_bf_site_rules"]
SHARED: dict[str, Any] = yaml.safe_load((REPO / "group_vars/all/shared.yml").read_text())


def test_every_stack_variable_has_a_rule() -> None:
    # Role variables wired in shared.yml are checked by their role's argument_specs instead.
    own = [key for key in SHARED if not key.startswith(("bf_provision_", "bf_docker_",
           "bf_images_", "bf_secrets_", "bf_config_", "bf_deploy_", "bf_backup_"))]  # fmt: skip
    assert [key for key in own if key not in RULES] == []
    kinds = {"pattern", "choices", "rule"}
    assert all(len(rule) == 1 and set(rule) <= kinds for rule in RULES.values())


@pytest.mark.parametrize("key", [k for k, rule in RULES.items() if "pattern" in rule])
def test_each_default_matches_its_pattern(key: str) -> None:
    # Ansible's `match` test anchors at the start only; every pattern anchors both ends itself.
    pattern = RULES[key]["pattern"]
    assert pattern.startswith("^") and pattern.endswith("$")
    assert re.match(pattern, str(SHARED[key]))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bf_stack_name", "Shop"),
        ("bf_stack_name", "shop-"),
        ("bf_stack_name", "a" * 25),
        ("bf_server_name", "shop example com"),
        ("bf_server_name", "-shop.example.com"),
        ("bf_admin_email", "admin"),
        ("bf_postgres_db", "shop; drop"),
        ("bf_postgres_db", "a" * 41),
        ("bf_postgres_user", ""),
        ("bf_postgres_user", "Backend"),
    ],
)
def test_a_bad_value_does_not_match(key: str, value: str) -> None:
    assert not re.match(RULES[key]["pattern"], value)
