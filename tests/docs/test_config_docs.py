"""docs/CONFIGURATION.md must be exactly what tools/gen_config_docs.py makes of the roles today.

The generator itself is tested too: a check that passes because the generator silently drops
variables would be a check that cannot fail.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "gen_config_docs.py"
DOC = ROOT / "docs" / "CONFIGURATION.md"
SPEC_FILES = sorted((ROOT / "roles").glob("*/meta/argument_specs.yml"))


def _load_tool():
    spec = importlib.util.spec_from_file_location("gen_config_docs", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def rendered() -> str:
    return _load_tool().render(ROOT)


def _option_names(options: dict, prefix: str = "") -> list[str]:
    names = []
    for name, spec in (options or {}).items():
        names.append(prefix + name)
        if (spec or {}).get("options"):
            sep = "[]." if spec.get("type") == "list" else "."
            names += _option_names(spec["options"], f"{prefix}{name}{sep}")
    return names


def test_configuration_md_is_current(tmp_path: Path) -> None:
    out = tmp_path / "CONFIGURATION.md"
    result = _run("--output", str(out))
    assert result.returncode == 0, result.stderr
    assert DOC.is_file(), "docs/CONFIGURATION.md is missing: run make docs"
    assert DOC.read_text() == out.read_text(), (
        "docs/CONFIGURATION.md is stale (a role's argument_specs or group_vars/all/shared.yml "
        "changed): run make docs and commit the result"
    )


@pytest.mark.parametrize("spec_file", SPEC_FILES, ids=lambda p: p.parts[-3])
def test_every_role_variable_is_documented(spec_file: Path, rendered: str) -> None:
    entries = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
    names = {n for entry in entries.values() for n in _option_names((entry or {}).get("options"))}
    missing = sorted(n for n in names if f"| `{n}` |" not in rendered)
    assert missing == [], f"{spec_file.parts[-3]}: not in the generated docs: {missing}"


def test_every_shared_variable_is_documented(rendered: str) -> None:
    shared = ROOT / "group_vars" / "all" / "shared.yml"
    if not shared.is_file():
        pytest.skip("group_vars/all/shared.yml does not exist")
    missing = sorted(k for k in yaml.safe_load(shared.read_text()) if f"| `{k}` |" not in rendered)
    assert missing == []


def test_check_fails_with_a_diff_when_stale(tmp_path: Path) -> None:
    out = tmp_path / "CONFIGURATION.md"
    out.write_text(DOC.read_text().replace("| `bf_", "| `stale_bf_", 1) if DOC.is_file() else "x\n")
    stale = _run("--check", "--output", str(out))
    assert stale.returncode == 1
    assert "run `make docs`" in stale.stdout
    assert any(line.startswith(("-", "+")) for line in stale.stdout.splitlines()[2:])

    assert _run("--output", str(out)).returncode == 0
    fresh = _run("--check", "--output", str(out))
    assert (fresh.returncode, fresh.stdout) == (0, "")


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.md"
        assert _run("--output", str(out), env={"PYTHONHASHSEED": seed}).returncode == 0
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]


def test_copes_with_roles_that_appear_later(tmp_path: Path) -> None:
    """A half-written role (no specs yet) and an unknown one must not break the page."""
    (tmp_path / "roles" / "bf_zeta" / "tasks").mkdir(parents=True)
    meta = tmp_path / "roles" / "bf_alpha" / "meta"
    meta.mkdir(parents=True)
    options = {
        "bf_alpha_mode": {
            "type": "str",
            "choices": ["a", "b"],
            "default": "a",
            "description": ["First part.", "Has a | pipe and C(code)."],
        },
        "bf_alpha_items": {
            "type": "list",
            "elements": "dict",
            "required": True,
            "description": "Items.",
            "options": {"name": {"type": "str", "required": True, "description": "Name."}},
        },
    }
    specs = {
        "argument_specs": {
            "main": {"short_description": "Alpha.", "options": options},
            "other": {"short_description": "Other.", "options": {}},
        }
    }
    (meta / "argument_specs.yml").write_text(yaml.safe_dump(specs))

    text = _load_tool().render(tmp_path)

    assert text.index("## Role `bf_alpha`") < text.index("## Role `bf_zeta`")
    assert "`group_vars/all/shared.yml` does not exist yet." in text
    mode_row = (
        "| `bf_alpha_mode` | str | `a` | `a`, `b` | no | First part. Has a \\| pipe and `code`. |"
    )
    assert mode_row in text
    assert "| `bf_alpha_items` | list of dict | — | — | yes | Items. |" in text
    assert "| `bf_alpha_items[].name` | str | — | — | yes | Name. |" in text
    assert "### Entry point `other`" in text
    assert "No `meta/argument_specs.yml` yet" in text.split("## Role `bf_zeta`")[1]
