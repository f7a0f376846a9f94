"""Filter plugin: the stack as one data model, and the Compose file deployed from it.

``manifests | bf_stack_model(settings)`` turns the app manifests (the bf_manifests lookup) and the
inventory's settings (roles/bf_stack/tasks/main.yml assembles them) into every service of the
stack, app and backing alike: image, placement group and hosts, replicas, networks, published
ports, secrets, configs, environment, healthcheck, limits and update policy. roles/bf_stack
publishes the result once as the fact ``bf_stack_model``; every other role reads it.

``bf_stack_model | bf_stack_compose(images, secrets, configs)`` renders it as the Compose file that
``docker stack deploy`` takes (swarm keys only: no depends_on, no restart, no group_add, which the
engine ignores or refuses), and ``bf_stack_job_spec`` turns one service of that file into the
Engine API spec of a one-off task (migrations, the admin account) run from the same definition.

Swarm facts the model follows (../shared/PLATFORM.md): no IPVS here, so every service uses
``endpoint_mode: dnsrr`` and the only published ports are host-mode ports; a host-mode port
cannot be replaced start-first, so services that publish one update stop-first, and stateful
services (one volume on one node) always update stop-first too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import re
from typing import Any

from ansible.errors import AnsibleFilterError

# Docker sizes: the engine parses these itself; we only refuse what it would refuse later.
_SIZE = re.compile(r"^[1-9][0-9]*[bkmg]?$", re.IGNORECASE)
_SIZE_FACTORS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
# Every container gets a private tmpfs here (its root file system is read-only).
_TMPFS = "/tmp"  # noqa: S108 - a path inside the containers, not one this code opens
# Placement: one node label per inventory group, set by bf_docker from the inventory.
_CONSTRAINT = "node.labels.{group} == true"
# Every service and its containers carry the release they run: a hash of the service's rendered
# definition (image, environment, secret and config versions...), so an update is visible per
# task and a rollback is told from a deploy (plugins/module_utils/bf_swarm.py reads it).
RELEASE_LABEL = "io.backend-framework.release"


def _plain(value: Any) -> Any:
    """A plain-Python copy of a template value.

    Ansible hands filters lazy containers whose every read is templated; the model is walked
    many times, so one copy up front keeps a filter call in milliseconds instead of seconds.
    """
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return "".join([value])
    return value


def _size_bytes(size: str) -> int:
    """Return a Docker size such as ``64m`` in bytes."""
    text = str(size).lower()
    if not _SIZE.match(text):
        raise AnsibleFilterError(f"{size!r} is not a size such as 64m or 1g")
    if text[-1] in _SIZE_FACTORS:
        return int(text[:-1]) * _SIZE_FACTORS[text[-1]]
    return int(text)


def _require(settings: dict[str, Any], *keys: str) -> None:
    missing = [key for key in keys if key not in settings]
    if missing:
        raise AnsibleFilterError(f"bf_stack_model: settings lack {', '.join(missing)}")


def _secret_refs(secrets: Any, uid: int, mount: str) -> list[dict[str, Any]]:
    """Normalise a list of secret names, or a mapping name -> env var, to secret references.

    A list gives each secret the environment variable ``<NAME>_FILE``; a mapping names it, or
    maps it to null for a file the service's other settings already name (pgBackRest's CA).
    Each secret is owned by the service's user with mode 0400: swarm has no group_add.
    """
    if isinstance(secrets, dict):
        pairs = sorted(secrets.items())
    else:
        pairs = [(name, f"{name.upper()}_FILE") for name in sorted(secrets or [])]
    return [
        {"name": name, "env": env, "path": f"{mount}/{name}", "uid": uid, "gid": uid, "mode": 0o400}
        for name, env in pairs
    ]


def _healthcheck(test: list[str], timing: dict[str, Any]) -> dict[str, Any]:
    return {
        "test": [str(part) for part in test],
        "interval": str(timing["interval"]),
        "timeout": str(timing["timeout"]),
        "retries": int(timing["retries"]),
        "start_period": str(timing["start_period"]),
    }


def _uwsgi_options(app: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The uWSGI options of one app: the role's defaults, then the manifest's ``uwsgi:``."""
    tune = settings["uwsgi"]
    processes = int(tune["processes"]) or max(2, int(settings["app_vcpus"]))
    options = {
        "strict": True,
        "master": True,
        "chdir": "/srv",
        "module": app["wsgi"],
        "socket": f":{app['port']}",
        "http-socket": f":{app['http_port']}",
        "processes": processes,
        "threads": int(tune["threads"]),
        "enable-threads": True,
        "lazy-apps": True,
        "need-app": True,
        "die-on-term": True,
        # SIGTERM (from bf-drain, after its wait) stops accepting and lets the requests in flight
        # finish; uWSGI's own SIGTERM handling would drop them.
        "hook-master-start": "unix_signal:15 gracefully_kill_them_all",
        "harakiri": int(tune["harakiri"]),
        "max-requests": int(tune["max_requests"]),
        "buffer-size": int(tune["buffer_size"]),
        "listen": int(tune["listen"]),
        "vacuum": True,
        "single-interpreter": True,
        "thunder-lock": True,
        "disable-logging": True,
        "log-4xx": True,
        "log-5xx": True,
    }
    options.update(app.get("uwsgi") or {})
    return options


def _enabled(spec: dict[str, Any]) -> bool:
    """Whether a backing service runs: its ``enabled`` (a bool, or the string a template gave)."""
    value = spec.get("enabled", True)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _app_environment(
    app: dict[str, Any], apps: dict[str, dict[str, Any]], settings: dict[str, Any]
) -> dict[str, str]:
    """The environment of one app: common settings, what each need provides, its own extras."""
    backing = settings["backing"]
    needs = app.get("needs") or []
    env = {
        "FLASK_ENV": settings["flask_env"],
        "DEBUG": "false",
        "LOG_LEVEL": settings["log_level"],
        "ADMIN_EMAIL": settings["admin_email"],
    }
    if "postgres" in needs:
        env.update(
            POSTGRES_HOST="postgres",
            POSTGRES_PORT=str(backing["postgres"]["port"]),
            POSTGRES_DB=settings["postgres_db"],
            POSTGRES_USER=settings["postgres_user"],
        )
        # Readiness reports the replication of the database against this (never its status).
        replica = backing.get("postgres_replica")
        env["POSTGRES_REPLICAS_EXPECTED"] = "1" if replica and _enabled(replica) else "0"
    if "redis" in needs:
        names = sorted(apps)
        db = settings["redis_dbs"].get(app["name"], names.index(app["name"]))
        env["REDIS_URL"] = f"redis://redis:{backing['redis']['port']}/{db}"
    if "cache" in needs:
        # Its own instance, same password: CACHE_REDIS_PASSWORD is only for a different one.
        env["CACHE_REDIS_URL"] = f"redis://cache:{backing['cache']['port']}/0"
    for need in needs:
        if need in apps:
            env[f"{need.upper()}_URL"] = f"http://{need}:{apps[need]['http_port']}"
    # The callers whose X-Forwarded-For the app believes: the edge, and the apps that call it
    # on a visitor's behalf. Any other container on the network is the client itself.
    callers = sorted(n for n, other in apps.items() if app["name"] in (other.get("needs") or []))
    env["TRUSTED_PROXY_HOSTS"] = ",".join(["nginx", *callers])
    # The edge writes one access line per request; the app's own would double the log volume.
    env["ACCESS_LOG"] = "false"
    env.update({str(k): str(v) for k, v in (settings["app_env"].get(app["name"]) or {}).items()})
    return env


def _update_policy(settings: dict[str, Any], kind: str) -> dict[str, Any]:
    policy = copy.deepcopy(settings["update"]["app" if kind == "app" else "stateful"])
    if kind == "edge":
        # Host-mode ports: a second task cannot bind them while the first runs (PLATFORM.md).
        policy["order"] = "stop-first"
    return policy


def _app_service(
    app: dict[str, Any], apps: dict[str, dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    mounts = settings["mounts"]
    group = settings["app_group"]
    hosts = list(settings["groups"].get(group, []))
    uid = int(settings["app_uid"])
    needs = app.get("needs") or []
    backing_needs = [n for n in needs if n in settings["backing"]]
    secrets = _secret_refs(app.get("secrets") or [], uid, mounts["secrets"])
    env = _app_environment(app, apps, settings)
    env.update({ref["env"]: ref["path"] for ref in secrets})
    uwsgi = _uwsgi_options(app, settings)
    drain = int(settings["app_drain_seconds"])
    env["BF_DRAIN_SECONDS"] = str(drain)
    replicas = settings["replicas"].get(app["name"], app.get("replicas", max(1, len(hosts))))
    return {
        "name": app["name"],
        "kind": "app",
        "group": group,
        "hosts": hosts,
        "mode": "replicated",
        "replicas": int(replicas),
        "image": app["name"],
        # bf-drain (in the python base image) keeps a stopping task serving for the drain time.
        "command": ["bf-drain", "uwsgi", "--ini", mounts["uwsgi_ini"]],
        "uid": uid,
        "networks": ["edge"] + (["backend"] if backing_needs else []),
        "ports": [],
        "secrets": secrets,
        "configs": [{"name": f"uwsgi_{app['name']}", "target": mounts["uwsgi_ini"]}],
        "environment": env,
        "volumes": [],
        "binds": [],
        "tmpfs": [_TMPFS],
        "cap_add": [],
        # The listen backlog uWSGI asks for is a per-network-namespace kernel limit.
        "sysctls": {"net.core.somaxconn": str(uwsgi["listen"])},
        # The drain, then the longest request harakiri allows, then a margin for the exit.
        "stop_grace_period": f"{drain + int(uwsgi['harakiri']) + 5}s",
        "healthcheck": _healthcheck(
            [
                "CMD",
                "python3",
                "-c",
                "import urllib.request; urllib.request.urlopen("
                f'"http://127.0.0.1:{app["http_port"]}{app["health"]["ready"]}", timeout=2)',
            ],
            settings["healthcheck"],
        ),
        "mem_limit": settings["mem_limits"].get(app["name"], settings["mem_limit_default"]),
        "update": _update_policy(settings, "app"),
        "stateful": False,
        "app": {
            "wsgi": app["wsgi"],
            "port": app["port"],
            "http_port": app["http_port"],
            "route": app["route"],
            "health": dict(app["health"]),
            "static": dict(app["static"]) if app.get("static") else None,
            "migrate": app.get("migrate"),
            "max_body": app.get("max_body"),
            "needs": list(needs),
            "uwsgi": uwsgi,
        },
    }


def _backing_service(
    name: str, spec: dict[str, Any], apps: list[dict[str, Any]], settings: dict[str, Any]
) -> dict[str, Any]:
    mounts = settings["mounts"]
    kind = spec["kind"]
    group = spec["group"]
    uid = int(spec["uid"])
    ports = [
        {
            "target": int(target),
            "published": int(settings["ports"][which]),
            "protocol": "tcp",
            "mode": "host",
        }
        for target, which in sorted((spec.get("publish") or {}).items())
    ]
    binds = [dict(bind) for bind in spec.get("binds") or []]
    if kind == "edge":
        paths = settings["paths"]
        binds += [
            # The directory of nginx.conf, not the file: a bind of a file pins its inode, and
            # the template task replaces the file by a rename, so a reload in the running task
            # would read the old config forever.
            {
                "source": posixpath.dirname(paths["nginx_conf"]),
                "target": posixpath.dirname(mounts["nginx_conf"]),
            },
            {"source": paths["nginx_tls"], "target": mounts["nginx_tls"]},
            {"source": paths["maintenance"], "target": mounts["maintenance"]},
        ]
        binds += [
            {
                "source": f"{paths['static']}/{app['name']}",
                "target": f"{mounts['static']}/{app['name']}",
            }
            for app in apps
            if app.get("static")
        ]
        if settings.get("acme_webroot"):
            binds.append({"source": settings["acme_webroot"], "target": "/srv/acme"})
    secrets = _secret_refs(spec.get("secrets") or {}, uid, mounts["secrets"])
    env = {str(k): str(v) for k, v in (spec.get("environment") or {}).items()}
    env.update({ref["env"]: ref["path"] for ref in secrets if ref["env"]})
    hosts = list(settings["groups"].get(group, []))
    mode = spec.get("mode", "replicated")
    return {
        "name": name,
        "kind": kind,
        "group": group,
        "hosts": hosts,
        "mode": mode,
        "replicas": len(hosts) if mode == "global" else 1,
        "image": spec["image"],
        "command": list(spec["command"]) if spec.get("command") else None,
        "uid": uid,
        "networks": list(spec["networks"]),
        "ports": ports,
        "secrets": secrets,
        "configs": [],
        "environment": env,
        "volumes": [
            {"source": source, "target": target}
            for source, target in sorted((spec.get("volumes") or {}).items())
        ],
        "binds": binds,
        "tmpfs": list(spec.get("tmpfs") or [_TMPFS]),
        "cap_add": list(spec.get("cap_add") or []),
        "sysctls": {},
        "stop_grace_period": spec.get("stop_grace_period", "10s"),
        "healthcheck": _healthcheck(spec["healthcheck"], settings["healthcheck"]),
        "mem_limit": settings["mem_limits"].get(name, settings["mem_limit_default"]),
        # Without a volume or a host port (the cache), a second task can start before the
        # first stops, as an app's does.
        "update": _update_policy(
            settings, kind if spec.get("volumes") or ports or kind == "edge" else "app"
        ),
        "stateful": bool(spec.get("volumes")),
        "app": None,
    }


def bf_stack_model(manifests: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """Build the stack model from valid manifests and the inventory's settings.

    Args:
        manifests: Entries of the bf_manifests lookup, already validated by bf_manifest_errors.
        settings: The inventory's stack settings (roles/bf_stack/tasks/main.yml lists them).

    Returns:
        ``{"name", "dir", "services": {name: service}, "apps": [names], "networks", "volumes",
        "secrets", "configs", "hosts": {host: [services]}}``; every service has the same keys.

    Raises:
        AnsibleFilterError: When a setting is missing or a size is malformed.
    """
    manifests = _plain(manifests)
    settings = _plain(settings)
    _require(
        settings,
        "name",
        "dir",
        "groups",
        "ports",
        "backing",
        "app_group",
        "app_uid",
        "replicas",
        "mem_limits",
        "mem_limit_default",
        "healthcheck",
        "logging",
        "redis_dbs",
        "app_env",
        "uwsgi",
        "app_vcpus",
        "update",
        "mounts",
        "flask_env",
        "log_level",
        "admin_email",
        "postgres_db",
        "postgres_user",
        "app_drain_seconds",
        "paths",
    )
    apps = {m["data"]["name"]: m["data"] for m in manifests}
    app_list = [apps[name] for name in sorted(apps)]
    services: dict[str, dict[str, Any]] = {}
    for name, spec in sorted(settings["backing"].items()):
        if _enabled(spec):
            services[name] = _backing_service(name, spec, app_list, settings)
    for app in app_list:
        services[app["name"]] = _app_service(app, apps, settings)
    for service in services.values():
        _size_bytes(service["mem_limit"])
    hosts: dict[str, list[str]] = {}
    for service in services.values():
        for host in service["hosts"]:
            hosts.setdefault(host, []).append(service["name"])
    networks = {
        "edge": {"driver": "overlay"},
        "backend": {"driver": "overlay", "internal": True},
    }
    used = {net for service in services.values() for net in service["networks"]}
    networks.update({net: {"driver": "overlay"} for net in sorted(used) if net not in networks})
    managers = list(settings["groups"].get("bf_swarm_managers", []))
    needed = {n for app in app_list for n in app.get("needs") or [] if n not in apps}
    return {
        "name": settings["name"],
        "dir": settings["dir"],
        # The swarm manager that creates secrets and configs and deploys the stack.
        "manager": managers[0] if managers else None,
        "managers": managers,
        "services": services,
        "apps": sorted(apps),
        # The backing services the apps need: running and healthy before any migration.
        "backing": sorted(needed & set(services)),
        "networks": {net: spec for net, spec in networks.items() if net in used},
        "volumes": sorted({v["source"] for s in services.values() for v in s["volumes"]}),
        "secrets": sorted({ref["name"] for s in services.values() for ref in s["secrets"]}),
        "configs": sorted({c["name"] for s in services.values() for c in s["configs"]}),
        "hosts": {host: sorted(names) for host, names in sorted(hosts.items())},
        "logging": {
            "driver": "json-file",
            "options": {
                "max-size": str(settings["logging"]["max_size"]),
                "max-file": str(settings["logging"]["max_file"]),
            },
        },
        "overrides": copy.deepcopy(settings.get("overrides") or {}),
        # How long the edge caches a service's addresses (the nginx resolver's valid=).
        "dns_valid_seconds": int(settings.get("dns_valid_seconds", 5)),
        "mounts": dict(settings["mounts"]),
        "paths": dict(settings["paths"]),
        # The replication role and slot the primary keeps for the replica (or drops without one).
        "replication": dict(settings.get("replication") or {}),
    }


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge override into a copy of base, mappings recursively (bf_stack_service_overrides)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _compose_service(
    service: dict[str, Any], model: dict[str, Any], image: str, versions: dict[str, str]
) -> dict[str, Any]:
    deploy: dict[str, Any] = {
        "mode": service["mode"],
        "endpoint_mode": "dnsrr",
        "placement": {"constraints": [_CONSTRAINT.format(group=service["group"])]},
        "resources": {"limits": {"memory": str(service["mem_limit"])}},
        "restart_policy": {"condition": "any", "delay": "5s"},
        "update_config": dict(service["update"]),
        "rollback_config": {
            key: service["update"][key]
            for key in ("parallelism", "order")
            if key in service["update"]
        },
    }
    if service["mode"] == "replicated":
        deploy["replicas"] = service["replicas"]
    rendered: dict[str, Any] = {
        "image": image,
        "init": True,
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": service["cap_add"],
        "command": service["command"],
        "environment": dict(sorted(service["environment"].items())),
        "networks": service["networks"],
        "ports": service["ports"],
        "secrets": [
            {
                "source": ref["name"],
                "target": ref["name"],
                "uid": str(ref["uid"]),
                "gid": str(ref["gid"]),
                "mode": ref["mode"],
            }
            for ref in service["secrets"]
        ],
        "configs": [
            {"source": cfg["name"], "target": cfg["target"], "mode": 0o444}
            for cfg in service["configs"]
        ],
        "volumes": [
            {"type": "volume", "source": v["source"], "target": v["target"]}
            for v in service["volumes"]
        ]
        + [
            {"type": "bind", "source": b["source"], "target": b["target"], "read_only": True}
            for b in service["binds"]
        ]
        + [
            {"type": "tmpfs", "target": target, "tmpfs": {"size": _size_bytes("64m")}}
            for target in service["tmpfs"]
        ],
        "sysctls": service["sysctls"],
        "stop_grace_period": service["stop_grace_period"],
        "healthcheck": service["healthcheck"],
        "logging": model["logging"],
        "deploy": deploy,
    }
    # Empty lists and mappings are left out so the file only says what applies.
    rendered = {k: v for k, v in rendered.items() if v not in (None, [], {}, "")}
    rendered = _merge(rendered, model["overrides"].get(service["name"]) or {})
    # The service names its secrets and configs by their stack-file keys; the versions they
    # stand for are part of its release (a rotated secret is a new release of its users).
    used = [ref["name"] for ref in service["secrets"]] + [c["name"] for c in service["configs"]]
    identity = {"service": rendered, "versions": {name: versions[name] for name in used}}
    release = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    rendered["labels"] = {RELEASE_LABEL: release}
    rendered["deploy"]["labels"] = {RELEASE_LABEL: release}
    if service["kind"] == "app":
        # Added after the hash (it is the hash): the app names its release in /health/live and
        # in an X-Release header, so a client sees which release answered.
        rendered["environment"] = dict(
            sorted({**rendered["environment"], "BF_RELEASE": release}.items())
        )
    return rendered


def bf_stack_compose(
    model: dict[str, Any],
    images: dict[str, str],
    secrets: dict[str, str],
    configs: dict[str, str],
    services: list[str] | None = None,
) -> dict[str, Any]:
    """Render the model as the Compose file of ``docker stack deploy``.

    Args:
        model: The ``bf_stack_model`` fact.
        images: Image reference per image name (the bf_images_refs fact).
        secrets: Swarm secret name per secret (bf_secrets creates them, versioned).
        configs: Swarm config name per config (bf_config creates them, versioned).
        services: Only these services (e.g. the backing services before the migrations).

    Returns:
        The Compose document as a dict (version 3.8, every secret and config external).

    Raises:
        AnsibleFilterError: When an image, secret or config of a service is unknown.
    """
    model, images, secrets, configs = _plain((model, images, secrets, configs))
    wanted = list(model["services"]) if services is None else _plain(services)
    unknown = [name for name in wanted if name not in model["services"]]
    if unknown:
        raise AnsibleFilterError(f"bf_stack_compose: no service {', '.join(unknown)} in the model")
    chosen = [model["services"][name] for name in wanted]
    missing = sorted({s["image"] for s in chosen if not images.get(s["image"])})
    if missing:
        raise AnsibleFilterError(
            f"No image ref for {', '.join(missing)}: run playbooks/images.yml (site.yml imports "
            "it) so that bf_images_refs names every image."
        )
    used_secrets = sorted({ref["name"] for s in chosen for ref in s["secrets"]})
    used_configs = sorted({cfg["name"] for s in chosen for cfg in s["configs"]})
    for kind, used, names in (("secret", used_secrets, secrets), ("config", used_configs, configs)):
        absent = [name for name in used if not names.get(name)]
        if absent:
            raise AnsibleFilterError(f"bf_stack_compose: no swarm {kind} for {', '.join(absent)}")
    networks = sorted({net for s in chosen for net in s["networks"]})
    volumes = sorted({v["source"] for s in chosen for v in s["volumes"]})
    document: dict[str, Any] = {
        "version": "3.8",
        "services": {
            s["name"]: _compose_service(s, model, images[s["image"]], {**secrets, **configs})
            for s in chosen
        },
        "networks": {net: dict(model["networks"][net]) for net in networks},
    }
    if volumes:
        document["volumes"] = {name: {} for name in volumes}
    if used_secrets:
        document["secrets"] = {n: {"external": True, "name": secrets[n]} for n in used_secrets}
    if used_configs:
        document["configs"] = {n: {"external": True, "name": configs[n]} for n in used_configs}
    return document


def bf_stack_releases(compose: dict[str, Any]) -> dict[str, str]:
    """The release label of every service of a rendered stack file, by service name."""
    compose = _plain(compose)
    return {
        name: svc.get("labels", {}).get(RELEASE_LABEL, "")
        for name, svc in sorted(compose.get("services", {}).items())
    }


def bf_stack_dependents(model: dict[str, Any], backing: str) -> list[str]:
    """The app services of a stack model that need ``backing`` (their manifest's ``needs``).

    A failover rolls these, so that each opens its connections to the new primary.
    """
    model = _plain(model)
    services = model.get("services", {})
    return sorted(
        name
        for name in model.get("apps", [])
        if backing in ((services.get(name, {}).get("app") or {}).get("needs") or [])
    )


# The node labels that say where the database runs: placement (bf_db_primary, bf_db_replica,
# from the inventory) and the fence a failover leaves on the old primary (bf_db_fenced).
DB_NODE_LABELS = ("bf_db_primary", "bf_db_replica", "bf_db_fenced")


def bf_stack_db_nodes(nodes: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The swarm nodes that carry each database label, from the engine's node list.

    ``nodes`` is what ``docker node inspect`` (or community.docker.docker_node_info) returns.
    Each label maps to its nodes, ``{"id", "hostname", "value", "state"}``, in hostname order;
    failover.yml finds the primary and the replica by them, and the preflight refuses a deploy
    while a node is fenced.
    """
    found: dict[str, list[dict[str, str]]] = {label: [] for label in DB_NODE_LABELS}
    for node in _plain(nodes) or []:
        labels = (node.get("Spec") or {}).get("Labels") or {}
        for label, entries in found.items():
            if label in labels:
                entries.append(
                    {
                        "id": str(node.get("ID", "")),
                        "hostname": str((node.get("Description") or {}).get("Hostname", "")),
                        "value": str(labels[label]),
                        "state": str((node.get("Status") or {}).get("State", "")),
                    }
                )
    for entries in found.values():
        entries.sort(key=lambda entry: (entry["hostname"], entry["id"]))
    return found


def bf_stack_job_spec(
    compose: dict[str, Any],
    service: str,
    stack: str,
    argv: list[str],
    name: str,
    networks: list[str] | None = None,
    env: dict[str, str] | None = None,
    volumes: bool = False,
) -> dict[str, Any]:
    """The Engine API spec of a one-off task built from one service of a stack's Compose file.

    The task runs argv from the service's image, with its environment, secrets and configs, on
    its networks and under its placement, once (restart condition none). Secret, config and
    network names are the swarm's own (bf_swarm_job resolves them to IDs).

    Args:
        compose: The Compose document bf_stack_compose rendered (or the deployed stack.yml).
        service: The service whose definition the task borrows (e.g. api).
        stack: The stack name (the prefix docker stack deploy gives networks).
        argv: The command of the task.
        name: The swarm service name of the task.
        networks: Only those of the service's networks that are in this list (a first deploy
            has created only the backing services' networks when the migrations run).
        env: Environment set over the service's (e.g. LOG_LEVEL=INFO, so that a migration says
            what it applied).
        volumes: Also mount the service's named volumes (a point-in-time restore writes the
            database's own volume, on the node the service's placement gives: its only node).

    Returns:
        A dict with ``Name``, ``Labels``, ``TaskTemplate``, ``Mode`` for POST /services/create.

    Raises:
        AnsibleFilterError: When the service is not in the file.
    """
    compose, argv, networks, env = _plain((compose, argv, networks, env))
    if service not in compose.get("services", {}):
        raise AnsibleFilterError(f"bf_stack_job_spec: no service {service} in the stack file")
    svc = compose["services"][service]
    secret_names = {k: v["name"] for k, v in (compose.get("secrets") or {}).items()}
    config_names = {k: v["name"] for k, v in (compose.get("configs") or {}).items()}

    def _file(ref: dict[str, Any], default_target: str) -> dict[str, Any]:
        return {
            "Name": ref.get("target", default_target),
            "UID": str(ref.get("uid", "0")),
            "GID": str(ref.get("gid", "0")),
            "Mode": int(ref.get("mode", 0o444)),
        }

    mounts = [
        {"Type": "tmpfs", "Target": v["target"], "TmpfsOptions": {"SizeBytes": v["tmpfs"]["size"]}}
        for v in svc.get("volumes", [])
        if v.get("type") == "tmpfs"
    ]
    if volumes:
        # docker stack deploy names a stack's volumes <stack>_<name>, as it does its networks.
        mounts += [
            {"Type": "volume", "Source": f"{stack}_{v['source']}", "Target": v["target"]}
            for v in svc.get("volumes", [])
            if v.get("type") == "volume"
        ]
    deploy = svc.get("deploy", {})
    container = {
        "Image": svc["image"],
        "Command": [str(part) for part in argv],
        "Env": [
            f"{k}={v}" for k, v in sorted({**(svc.get("environment") or {}), **(env or {})}.items())
        ],
        "Labels": {"com.docker.stack.namespace": stack},
        "Init": bool(svc.get("init", False)),
        "ReadOnly": bool(svc.get("read_only", False)),
        "CapabilityDrop": list(svc.get("cap_drop", [])),
        "Mounts": mounts,
        "Secrets": [
            {"SecretName": secret_names[ref["source"]], "File": _file(ref, ref["source"])}
            for ref in svc.get("secrets", [])
        ],
        "Configs": [
            {"ConfigName": config_names[ref["source"]], "File": _file(ref, ref["source"])}
            for ref in svc.get("configs", [])
        ],
    }
    if svc.get("cap_add"):
        container["CapabilityAdd"] = list(svc["cap_add"])
    # The image's HEALTHCHECK watches a server this command does not start: a long migration
    # would turn unhealthy and be killed.
    container["Healthcheck"] = {"Test": ["NONE"]}
    return {
        "Name": name,
        "Labels": {"com.docker.stack.namespace": stack, "io.backend-framework.job": service},
        "TaskTemplate": {
            "ContainerSpec": container,
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": list(deploy.get("placement", {}).get("constraints", []))},
            "Networks": [
                {"Target": f"{stack}_{net}"}
                for net in svc.get("networks", [])
                if networks is None or net in networks
            ],
            "Resources": {
                "Limits": {"MemoryBytes": _size_bytes(deploy["resources"]["limits"]["memory"])}
            }
            if deploy.get("resources", {}).get("limits", {}).get("memory")
            else {},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }


class FilterModule:
    """Stack model filters."""

    def filters(self) -> dict[str, Any]:
        """Return the filters of this plugin."""
        return {
            "bf_stack_model": bf_stack_model,
            "bf_stack_compose": bf_stack_compose,
            "bf_stack_job_spec": bf_stack_job_spec,
            "bf_stack_releases": bf_stack_releases,
            "bf_stack_dependents": bf_stack_dependents,
            "bf_stack_db_nodes": bf_stack_db_nodes,
        }
