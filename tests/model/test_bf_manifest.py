"""The manifest checks (plugins/filter/bf_manifest.py): each problem named, with its fix."""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BACKING = ["postgres", "redis", "cache"]
RESERVED = ["postgres", "redis", "cache", "pgadmin", "nginx"]
SECRETS = ["postgres_password", "redis_password", "secret_key", "admin_password"]


def _errors(bf_manifest: ModuleType, manifests: list[dict[str, Any]], app_dir: str) -> list[str]:
    return bf_manifest.bf_manifest_errors(manifests, app_dir, BACKING, RESERVED, SECRETS)


def _edited(manifests: list[dict[str, Any]], service: str, **changes: Any) -> list[dict[str, Any]]:
    edited = copy.deepcopy(manifests)
    for entry in edited:
        if entry["folder"] == service:
            for key, value in changes.items():
                if value is None:
                    entry["data"].pop(key)
                else:
                    entry["data"][key] = value
    return edited


def test_the_real_app_tree_is_valid(
    bf_manifest: ModuleType, manifests: list[dict[str, Any]]
) -> None:
    app_dir = str(Path(manifests[0]["path"]).parents[1])
    secrets = SECRETS + ["jwt_secret_key", "frontend_secret_key"]
    assert bf_manifest.bf_manifest_errors(manifests, app_dir, BACKING, RESERVED, secrets) == []


@pytest.mark.parametrize(
    ("service", "changes", "expected"),
    [
        ("api", {"wsgi": None}, "api/service.yml: required key 'wsgi' is missing"),
        ("api", {"port": 80}, "api/service.yml: key 'port' must be an integer from 1024 to 65535"),
        ("api", {"port": True}, "key 'port' must be an integer from 1024 to 65535 (got True)"),
        ("api", {"colour": "red"}, "api/service.yml: unknown key 'colour'"),
        ("api", {"name": "API"}, "key 'name' must match ^[a-z][a-z0-9_]*$"),
        ("api", {"name": "shop"}, "key 'name' is 'shop' but the folder is 'api'"),
        ("api", {"wsgi": "api.wsgi"}, "key 'wsgi' must be 'module:callable'"),
        ("api", {"http_port": 8080}, "keys 'port' and 'http_port' are both 8080"),
        ("api", {"route": "/api"}, "key 'route' must be a path starting and ending with '/'"),
        ("api", {"health": {"live": "/x"}}, "key 'health.ready' must be a path starting with '/'"),
        ("api", {"needs": ["postgres", "mongo"]}, "key 'needs' lists 'mongo', which is not one of"),
        ("api", {"needs": ["api"]}, "key 'needs' lists 'api'"),
        ("api", {"needs": "postgres"}, "key 'needs' must be a list of service names"),
        ("api", {"secrets": ["ssh_key"]}, "key 'secrets' lists 'ssh_key', which is not one of"),
        ("api", {"replicas": 0}, "key 'replicas' must be an integer from 1 to 100"),
        ("api", {"max_body": "lots"}, "key 'max_body' must be an Nginx size such as 64k or 1m"),
        ("api", {"uwsgi": {"harakiri": [1]}}, "key 'uwsgi.harakiri' must be an option name"),
        ("api", {"uwsgi": {"x": "1\nplugin = evil"}}, "key 'uwsgi.x' must be an option name"),
        ("frontend", {"static": {"url": "/static/", "dir": "../etc"}}, "without '..'"),
        ("frontend", {"static": {"url": "/s/", "dir": "nope"}}, "which is not a directory"),
        ("frontend", {"route": "/api/"}, "route '/api/' is claimed by both"),
    ],
)
def test_a_bad_manifest_is_named_with_its_fix(
    bf_manifest: ModuleType,
    manifests: list[dict[str, Any]],
    service: str,
    changes: dict[str, Any],
    expected: str,
) -> None:
    app_dir = str(Path(manifests[0]["path"]).parents[1])
    errors = _errors(bf_manifest, _edited(manifests, service, **changes), app_dir)
    assert any(expected in error for error in errors), errors


def test_a_reserved_name_is_refused(bf_manifest: ModuleType, tmp_path: Path) -> None:
    entry = {"folder": "nginx", "file": "nginx/service.yml", "path": "x", "error": None}
    entry["data"] = {"name": "nginx", "wsgi": "a:b", "port": 9000, "http_port": 9001,
                     "route": "/n/", "health": {"live": "/l", "ready": "/r"}}  # fmt: skip
    errors = _errors(bf_manifest, [entry], str(tmp_path))
    assert any("reserved for a stack service" in e for e in errors), errors


def test_broken_yaml_and_an_empty_tree_are_named(bf_manifest: ModuleType, tmp_path: Path) -> None:
    broken = {"folder": "x", "file": "x/service.yml", "path": "p", "data": None, "error": "bad"}
    assert _errors(bf_manifest, [broken], str(tmp_path)) == [
        f"{tmp_path}/x/service.yml: is not valid YAML (bad); fix its syntax."
    ]
    assert "holds no <service>/service.yml" in _errors(bf_manifest, [], str(tmp_path))[0]


def test_the_lookup_reports_broken_yaml_instead_of_failing(tmp_path: Path) -> None:
    from model_helpers import load_plugin

    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "service.yml").write_text("name: [unclosed\n")
    lookup = load_plugin("lookup/bf_manifests.py", "bf_manifests_lookup_test")
    [entry] = lookup.read_manifests(tmp_path)
    assert entry["folder"] == "svc" and entry["data"] is None and entry["error"]
