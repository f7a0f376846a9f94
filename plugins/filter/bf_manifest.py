"""Filter plugin: validate the app service manifests (docs/SERVICE_MANIFEST.md).

``manifests | bf_manifest_errors(app_dir, backing, reserved, known_secrets)`` returns every
problem of every manifest as one sentence that names the file, the key and the fix; an empty
list means the app tree is valid. The manifests come from ``query('bf_manifests', app_dir)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REQUIRED = ("name", "wsgi", "port", "http_port", "route", "health")
KNOWN = (
    "name",
    "description",
    "wsgi",
    "port",
    "http_port",
    "route",
    "static",
    "health",
    "needs",
    "secrets",
    "migrate",
    "uwsgi",
    "replicas",
    "max_body",
)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
WSGI = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
ROUTE = re.compile(r"^/([A-Za-z0-9._~-]+/)*$")
HEALTH_PATH = re.compile(r"^/\S*$")
UWSGI_OPTION = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _one(
    entry: dict[str, Any],
    app_dir: str,
    names: list[str],
    backing: list[str],
    reserved: list[str],
    known_secrets: list[str],
) -> list[str]:
    """Return the problems of one manifest entry (see the bf_manifests lookup)."""
    where = f"{app_dir}/{entry['file']}"
    if entry.get("error"):
        return [f"{where}: is not valid YAML ({entry['error']}); fix its syntax."]
    m = entry.get("data")
    if not isinstance(m, dict):
        return [f"{where}: is not a YAML mapping; write the keys of docs/SERVICE_MANIFEST.md."]
    errors = [
        f"{where}: required key '{k}' is missing; add it (docs/SERVICE_MANIFEST.md)."
        for k in REQUIRED
        if k not in m
    ]
    errors += [
        f"{where}: unknown key '{k}'; allowed keys are {', '.join(KNOWN)}."
        for k in m
        if k not in KNOWN
    ]
    folder = entry["folder"]
    if "name" in m:
        if not isinstance(m["name"], str) or not NAME.match(m["name"]):
            errors.append(f"{where}: key 'name' must match ^[a-z][a-z0-9_]*$ (got {m['name']!r}).")
        elif m["name"] != folder:
            errors.append(
                f"{where}: key 'name' is '{m['name']}' but the folder is '{folder}'; "
                "they must be equal."
            )
        elif m["name"] in reserved:
            errors.append(
                f"{where}: key 'name' '{m['name']}' is reserved for a stack service; "
                "rename the folder and the name."
            )
    if "description" in m and not isinstance(m["description"], str):
        errors.append(f"{where}: key 'description' must be a string.")
    if "wsgi" in m and (not isinstance(m["wsgi"], str) or not WSGI.match(m["wsgi"])):
        errors.append(
            f"{where}: key 'wsgi' must be 'module:callable' like 'api.wsgi:app' "
            f"(got {m['wsgi']!r})."
        )
    for key in ("port", "http_port"):
        if key in m and (not _is_int(m[key]) or not 1024 <= m[key] <= 65535):
            errors.append(
                f"{where}: key '{key}' must be an integer from 1024 to 65535 (got {m[key]!r})."
            )
    if "port" in m and "http_port" in m and m["port"] == m["http_port"]:
        errors.append(
            f"{where}: keys 'port' and 'http_port' are both {m['port']}; "
            "give the HTTP socket another port."
        )
    if "route" in m and (not isinstance(m["route"], str) or not ROUTE.match(m["route"])):
        errors.append(
            f"{where}: key 'route' must be a path starting and ending with '/' like '/api/' "
            f"(got {m['route']!r})."
        )
    errors += _health(where, m)
    errors += _static(where, m, app_dir)
    if "needs" in m:
        if not _is_list(m["needs"]):
            errors.append(f"{where}: key 'needs' must be a list of service names.")
        else:
            allowed = [n for n in backing + names if n != folder]
            errors += [
                f"{where}: key 'needs' lists '{n}', which is not one of {', '.join(allowed)}."
                for n in m["needs"]
                if n not in allowed
            ]
    if "secrets" in m:
        if not _is_list(m["secrets"]):
            errors.append(f"{where}: key 'secrets' must be a list of secret names.")
        else:
            errors += [
                f"{where}: key 'secrets' lists '{s}', which is not one of "
                f"{', '.join(known_secrets)}."
                for s in m["secrets"]
                if s not in known_secrets
            ]
    if "migrate" in m and not isinstance(m["migrate"], str):
        errors.append(f"{where}: key 'migrate' must be a command string.")
    if "max_body" in m and (
        not isinstance(m["max_body"], str) or not re.match(r"^[1-9][0-9]*[km]?$", m["max_body"])
    ):
        errors.append(f"{where}: key 'max_body' must be an Nginx size such as 64k or 1m.")
    if "replicas" in m and (not _is_int(m["replicas"]) or not 1 <= m["replicas"] <= 100):
        errors.append(f"{where}: key 'replicas' must be an integer from 1 to 100.")
    if "uwsgi" in m:
        if not isinstance(m["uwsgi"], dict):
            errors.append(f"{where}: key 'uwsgi' must be a mapping of uWSGI options.")
        else:
            errors += [
                f"{where}: key 'uwsgi.{k}' must be an option name with one scalar value."
                for k, v in m["uwsgi"].items()
                if not isinstance(k, str)
                or not UWSGI_OPTION.match(k)
                or isinstance(v, (dict, list))
                or re.search(r"[\r\n]", str(v))
            ]
    return errors


def _health(where: str, m: dict[str, Any]) -> list[str]:
    if "health" not in m:
        return []
    if not isinstance(m["health"], dict):
        return [f"{where}: key 'health' must be a mapping with 'live' and 'ready' paths."]
    return [
        f"{where}: key 'health.{k}' must be a path starting with '/'."
        for k in ("live", "ready")
        if not isinstance(m["health"].get(k), str) or not HEALTH_PATH.match(m["health"][k])
    ]


def _static(where: str, m: dict[str, Any], app_dir: str) -> list[str]:
    if "static" not in m:
        return []
    static = m["static"]
    if not isinstance(static, dict) or "url" not in static or "dir" not in static:
        return [f"{where}: key 'static' must be a mapping with 'url' and 'dir'."]
    errors = []
    if not isinstance(static["url"], str) or not ROUTE.match(static["url"]):
        errors.append(
            f"{where}: key 'static.url' must be a path starting and ending with '/' "
            f"(got {static['url']!r})."
        )
    folder = static["dir"]
    if not isinstance(folder, str) or folder.startswith("/") or ".." in folder.split("/"):
        errors.append(
            f"{where}: key 'static.dir' must be a path relative to the app folder, without '..'."
        )
    elif not (Path(app_dir) / folder).is_dir():
        errors.append(
            f"{where}: key 'static.dir' names {app_dir}/{folder}, which is not a directory."
        )
    return errors


def bf_manifest_errors(
    manifests: list[dict[str, Any]],
    app_dir: str,
    backing: list[str],
    reserved: list[str],
    known_secrets: list[str],
) -> list[str]:
    """Validate every manifest and the rules between them.

    Args:
        manifests: Entries of the bf_manifests lookup.
        app_dir: The app tree they came from (named in the messages).
        backing: Services an app may list in ``needs`` besides other apps (postgres, redis).
        reserved: Service names the stack owns (an app may not take one).
        known_secrets: Secret names an app may list in ``secrets``.

    Returns:
        Every problem found, one sentence each; empty when the tree is valid.
    """
    # A plain copy: every read of Ansible's lazy containers is templated (see bf_stack._plain).
    manifests = json.loads(json.dumps(manifests))
    if not manifests:
        return [
            f"bf_app_dir={app_dir} holds no <service>/service.yml manifest. Point bf_app_dir at "
            "the project's app/ folder (docs/SERVICE_MANIFEST.md)."
        ]
    names = [entry["folder"] for entry in manifests]
    errors = []
    for entry in manifests:
        errors += _one(entry, app_dir, names, list(backing), list(reserved), list(known_secrets))
    routes: dict[str, str] = {}
    for entry in manifests:
        data = entry.get("data")
        route = data.get("route") if isinstance(data, dict) else None
        if not isinstance(route, str):
            continue
        if route in routes:
            errors.append(
                f"route '{route}' is claimed by both {app_dir}/{routes[route]} and "
                f"{app_dir}/{entry['file']}; give one service another route."
            )
        else:
            routes[route] = entry["file"]
    return errors


class FilterModule:
    """Manifest validation filters."""

    def filters(self) -> dict[str, Any]:
        """Return the filters of this plugin."""
        return {"bf_manifest_errors": bf_manifest_errors}
