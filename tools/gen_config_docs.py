"""Generate docs/CONFIGURATION.md from every role's meta/argument_specs.yml and the shared vars.

Run `python tools/gen_config_docs.py` to rewrite the file, `--check` to exit 1 with a diff when
it is stale (`make test` and the pre-commit hook do that, so the page cannot drift).

Why not aar-doc (2.4.0, tried first: it installs offline-capable and its output is stable)? It
writes one README per role, so a single page means stitching its output together; it prints
defaults as Python reprs (`True`, `['a']`) where our users write YAML, leaves `{}` defaults
blank, repeats the `preflight` entry point that shares `main`'s options, knows nothing of the
shared inventory variables, and has no check mode. It would also add typer, shellingham and
annotated-doc to the lock. The ~150 lines here need only PyYAML, already pinned, and sort
nothing by chance: roles in pipeline order, options in file order.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Roles in the order site.yml runs them; roles not listed follow in name order.
ROLE_ORDER = [
    "bf_stack",
    "bf_provision",
    "bf_docker",
    "bf_images",
    "bf_secrets",
    "bf_config",
    "bf_deploy",
]
# What the preflight accepts for each shared variable (choices, a pattern or a rule in words).
SHARED_RULES = ROOT / "playbooks" / "vars" / "shared_rules.yml"
_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):")
_MARKUP = re.compile(r"\b[CIVBM]\(([^)]*)\)")


def _cell(text: Any) -> str:
    """Make text safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    """Render a YAML value the way a user would write it, as inline code."""
    # JSON is YAML too, and quotes the strings inside a list or dict without YAML's '' escapes.
    text = _cell(value if isinstance(value, str) and value else json.dumps(value))
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def _accepted(rule: dict[str, Any]) -> str:
    """One cell: the choices, the pattern or the rule the preflight checks a value against."""
    if "choices" in rule:
        return ", ".join(_code(c) for c in rule["choices"])
    if "pattern" in rule:
        return _code(rule["pattern"])
    return _cell(rule.get("rule") or "—")


def _description(spec: dict[str, Any]) -> str:
    desc = spec.get("description", "")
    if isinstance(desc, list):
        desc = " ".join(desc)
    return _cell(_MARKUP.sub(r"`\1`", str(desc)))


def _type(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "str")
    return f"{kind} of {spec['elements']}" if "elements" in spec else kind


def _option_rows(options: dict[str, Any], prefix: str = "") -> list[str]:
    rows = []
    for name, spec in options.items():
        spec = spec or {}
        default = _code(spec["default"]) if "default" in spec else "—"
        choices = ", ".join(_code(c) for c in spec.get("choices", [])) or "—"
        required = "yes" if spec.get("required") else "no"
        rows.append(
            f"| `{prefix}{name}` | {_type(spec)} | {default} | {choices} | {required} "
            f"| {_description(spec)} |"
        )
        if spec.get("options"):
            sub = f"{prefix}{name}[]." if spec.get("type") == "list" else f"{prefix}{name}."
            rows += _option_rows(spec["options"], sub)
    return rows


def _role_section(role: Path) -> list[str]:
    lines = [f"## Role `{role.name}`", ""]
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        return lines + ["No `meta/argument_specs.yml` yet: its variables are undocumented.", ""]
    entries = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
    seen: dict[str, str] = {}
    for entry in ["main"] + sorted(e for e in entries if e != "main"):
        if entry not in entries:
            continue
        spec = entries[entry] or {}
        options = spec.get("options") or {}
        key = yaml.safe_dump(options, sort_keys=True)
        if key in seen:
            lines += [f"Entry point `{entry}` takes the same variables as `{seen[key]}`.", ""]
            continue
        seen[key] = entry
        if entry != "main":
            lines += [f"### Entry point `{entry}`", ""]
        lines += [_description({"description": spec.get("short_description", "")}), ""]
        for paragraph in spec.get("description") or []:
            lines += [_description({"description": paragraph}), ""]
        lines += [
            "| Variable | Type | Default | Choices | Required | Description |",
            "| --- | --- | --- | --- | --- | --- |",
            *(_option_rows(options) or ["| — | | | | | No variables. |"]),
            "",
        ]
    return lines


def _role_options(role: Path) -> set[str]:
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        return set()
    specs = yaml.safe_load(spec_file.read_text()) or {}
    return set(specs.get("argument_specs", {}).get("main", {}).get("options") or {})


def _shared_section(shared: Path, roles: list[str]) -> list[str]:
    """Document group_vars/all/shared.yml: each key with the comment block right above it."""
    lines = ["## Shared inventory variables", ""]
    if not shared.is_file():
        return lines + ["`group_vars/all/shared.yml` does not exist yet.", ""]
    values = yaml.safe_load(shared.read_text()) or {}
    comments: dict[str, str] = {}
    pending: list[str] = []
    for raw in shared.read_text().splitlines():
        if raw.startswith("#") and not raw.startswith("# ---"):
            pending.append(raw.lstrip("#").strip())
        elif match := _KEY.match(raw):
            comments[match.group(1)] = " ".join(pending)
            pending = []
        elif not raw.startswith((" ", "-")):
            pending = []
    # A role variable is one a role's argument_specs declares; bf_stack_name and bf_stack_dir
    # carry a role's prefix but are the stack's own globals.
    declared = {
        option for role in roles for option in _role_options(shared.parents[2] / "roles" / role)
    }
    wired = [k for k in values if k in declared]
    own = [k for k in values if k not in wired]
    lines += [
        "Set in `group_vars/all/shared.yml`, which every inventory links as",
        "`inventories/<env>/group_vars/all/000-shared.yml`: it loads first, so the inventory's own",
        "`vars.yml` overrides any of them.",
        "",
        "| Variable | Type | Default | Accepted | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    rules = yaml.safe_load(SHARED_RULES.read_text())["_bf_site_rules"]
    for key in own:
        value = values[key]
        choices = _accepted(rules.get(key) or {})
        kind = {bool: "bool", int: "int", list: "list", dict: "dict"}.get(type(value), "str")
        lines.append(
            f"| `{key}` | {kind} | {_code(value)} | {choices} | {_cell(comments.get(key) or '—')} |"
        )
    if wired:
        lines += [
            "",
            "### Role variables set in shared.yml",
            "",
            "These pass the shared values into each role (whose own defaults are below) and win",
            "over the role defaults in every inventory.",
            "",
            "| Variable | Value | Note |",
            "| --- | --- | --- |",
            *(f"| `{k}` | {_code(values[k])} | {_cell(comments.get(k) or '—')} |" for k in wired),
        ]
    return lines + [""]


def render(root: Path) -> str:
    """Return the whole of docs/CONFIGURATION.md for the repository at root."""
    found = {p.name: p for p in (root / "roles").glob("*") if p.is_dir()}
    names = [r for r in ROLE_ORDER if r in found] + sorted(set(found) - set(ROLE_ORDER))
    lines = [
        "<!-- Generated by tools/gen_config_docs.py from roles/*/meta/argument_specs.yml and",
        "     group_vars/all/shared.yml. Do not edit by hand: run `make docs`. -->",
        "# Configuration",
        "",
        "Every variable the deploy reads. Set them per environment in",
        "`inventories/<env>/group_vars/all/vars.yml`; vaulted values go in `vault.yml` beside it",
        "(docs/DEPLOY.md).",
        "`playbooks/preflight.yml` checks each role's variables against its argument_specs before",
        "any host changes, so a wrong type or choice stops the run with the variable's name.",
        "",
        "Roles: " + ", ".join(f"[`{n}`](#role-{n})" for n in names) + ".",
        "",
    ]
    lines += _shared_section(root / "group_vars" / "all" / "shared.yml", names)
    for name in names:
        lines += _role_section(found[name])
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/CONFIGURATION.md, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("--output", type=Path, help="default: <root>/docs/CONFIGURATION.md")
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff if stale")
    args = parser.parse_args(argv)
    output = args.output or args.root / "docs" / "CONFIGURATION.md"
    text = render(args.root)
    if args.check:
        current = output.read_text() if output.is_file() else ""
        if current == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{output} (checked in)",
                f"{output} (generated)",
            )
        )
        print(f"\n{output} is stale: run `make docs` (python tools/gen_config_docs.py).")
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
