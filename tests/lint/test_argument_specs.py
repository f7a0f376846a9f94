"""Each role's meta/argument_specs.yml and defaults/main.yml must agree: same keys, same values.

argument_specs is what preflight validates and what docs/CONFIGURATION.md is generated from;
defaults is what actually applies. When they drift, users read one value and get another.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


def _load(path: Path) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_specs_and_preflight(role: Path) -> None:
    assert (role / "meta" / "argument_specs.yml").is_file(), f"{role.name}: no argument_specs"
    assert (role / "tasks" / "preflight.yml").is_file(), f"{role.name}: no tasks/preflight.yml"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml")
    specs = _load(role / "meta" / "argument_specs.yml")
    options = specs.get("argument_specs", {}).get("main", {}).get("options", {}) or {}

    assert set(defaults) - set(options) == set(), (
        f"{role.name}: defaults without an argument_spec: {sorted(set(defaults) - set(options))}"
    )
    not_defaulted = {
        k for k, v in options.items() if not v.get("required", False) and k not in defaults
    }
    assert not_defaulted == set(), (
        f"{role.name}: optional argument_specs without a default in defaults/main.yml: "
        f"{sorted(not_defaulted)}"
    )
    for key, value in defaults.items():
        spec = options[key]
        assert "default" in spec, f"{role.name}: argument_spec {key} lacks its default"
        assert spec["default"] == value, (
            f"{role.name}: {key} defaults to {value!r} but argument_specs says {spec['default']!r}"
        )
        assert spec.get("description"), f"{role.name}: argument_spec {key} has no description"
        assert key.startswith(f"{role.name}_"), f"{role.name}: {key} lacks the role prefix"
