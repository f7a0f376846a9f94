"""Helpers of the plugin unit tests: load a plugin file by path, build the model's settings.

Not a conftest.py: other test folders import their own ``conftest`` by name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"


def load_plugin(relative: str, name: str) -> ModuleType:
    """Import one plugin file (e.g. filter/bf_stack.py) as a module."""
    spec = importlib.util.spec_from_file_location(name, PLUGINS / relative)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The swarm modules import their helpers as Ansible ships them: ansible.module_utils.bf_swarm.
swarm_utils = load_plugin("module_utils/bf_swarm.py", "ansible.module_utils.bf_swarm")
releases_utils = load_plugin("module_utils/bf_releases.py", "ansible.module_utils.bf_releases")


def _role_yaml(role: str, rel: str) -> Any:
    return yaml.safe_load((REPO / "roles" / role / rel).read_text())


def _resolve(value: Any, context: dict[str, Any]) -> Any:
    """Render the few Jinja expressions of roles/bf_stack/vars (a stand-in for Ansible's)."""
    from jinja2 import Environment

    env = Environment()  # noqa: S701 - renders test data, not HTML
    env.filters["bool"] = lambda v: str(v).strip().lower() in ("true", "yes", "1")
    env.filters["combine"] = lambda a, b: {**a, **b}
    if isinstance(value, dict):
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context) for v in value]
    if isinstance(value, str) and "{{" in value:
        rendered = env.from_string(value).render(**context)
        try:
            return yaml.safe_load(rendered)
        except yaml.YAMLError:
            return rendered
    return value


def settings(**over: Any) -> dict[str, Any]:
    """The settings roles/bf_stack/tasks/main.yml hands the model, from the role's own files."""
    defaults = _role_yaml("bf_stack", "defaults/main.yml")
    context = {
        **defaults,
        "bf_stack_dir": "/opt/bf",
        "bf_postgres_db": "backend_db",
        "bf_postgres_user": "backend",
        "bf_admin_email": "admin@example.com",
        "bf_stack_pgadmin_expose": over.pop("pgadmin_expose", True),
        "bf_stack_name": "shop",
    }
    variables = _role_yaml("bf_stack", "vars/main.yml")
    replica_hosts = over.pop("replica_hosts", [])
    groups = over.pop(
        "groups",
        {
            "bf_swarm_managers": ["m1"],
            "bf_edge": ["m1"],
            "bf_app": ["m1", "w1"],
            "bf_db_primary": ["w2"],
            "bf_cache": ["w2"],
            "bf_admin": ["w2"],
            "bf_backup": ["w1"],
        },
    )
    if replica_hosts:
        groups = {**groups, "bf_db_replica": list(replica_hosts)}
    context.update(
        groups=groups,
        bf_postgres_replication_user="replicator",
        _bf_stack_replica_slot=variables["_bf_stack_replica_slot"],
        _bf_stack_replica_enabled=bool(groups.get("bf_db_replica")),
    )
    context["_bf_stack_postgres_command"] = _resolve(
        variables["_bf_stack_postgres_command"], context
    )
    base = {
        "name": "shop",
        "dir": "/opt/bf",
        "groups": groups,
        "ports": {"http": 80, "https": 443, "pgadmin": 5050},
        "backing": _resolve(variables["_bf_stack_backing"], context),
        "app_group": variables["_bf_stack_app_group"],
        "app_uid": variables["_bf_stack_app_uid"],
        "app_vcpus": 2,
        "replicas": defaults["bf_stack_replicas"],
        "mem_limits": defaults["bf_stack_mem_limits"],
        "mem_limit_default": defaults["bf_stack_mem_limit_default"],
        "healthcheck": defaults["bf_stack_healthcheck"],
        "logging": {"max_size": "10m", "max_file": 3},
        "redis_dbs": defaults["bf_stack_redis_dbs"],
        "app_env": defaults["bf_stack_app_env"],
        "overrides": defaults["bf_stack_service_overrides"],
        "uwsgi": {
            "processes": 0,
            "threads": 4,
            "harakiri": 60,
            "max_requests": 5000,
            "buffer_size": 8192,
            "listen": 1024,
        },
        "app_drain_seconds": 8,
        "dns_valid_seconds": 5,
        "update": {
            "app": defaults["bf_stack_app_update"],
            "stateful": defaults["bf_stack_stateful_update"],
        },
        "mounts": variables["_bf_stack_mounts"],
        "paths": _resolve(variables["_bf_stack_paths"], context),
        "flask_env": "production",
        "log_level": "INFO",
        "admin_email": "admin@example.com",
        "postgres_db": "backend_db",
        "postgres_user": "backend",
        "acme_webroot": "",
        "replication": {"user": "replicator", "slot": variables["_bf_stack_replica_slot"]},
    }
    base.update(over)
    return base
