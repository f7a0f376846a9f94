"""Filter plugin: checks of inventory values that are more than a regular expression.

Each filter returns an empty string when the value is fine, else the reason, so a preflight
assert can say exactly what is wrong with the variable it names.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any

# A stack directory below one of these would mix the stack's files with the system's.
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc")
SYSTEM_DIRS += ("/run", "/sbin", "/sys", "/usr")
# ...and these may hold a stack directory below them, but are not one themselves.
# Names of directories to refuse, not files this code opens (S108 is about the latter).
SHARED_DIRS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var")  # noqa: S108
SHARED_DIRS += ("/var/lib", "/var/tmp", "/var/log", "/var/cache")  # noqa: S108


def _path_shape_problem(path: Any) -> str:
    """Why path is not an absolute, normalised path without spaces (empty when it is)."""
    if not isinstance(path, str) or not path:
        return "it must be a non-empty absolute path"
    if not path.startswith("/"):
        return "it must be an absolute path (starting with /)"
    if any(ch.isspace() or ord(ch) < 32 for ch in path):
        return "it may not contain spaces or control characters"
    if posixpath.normpath(path) != path or path.startswith("//"):
        return f"it must be written normalised, as {posixpath.normpath(path)}"
    return ""


def bf_dir_problem(path: Any) -> str:
    """Why path cannot be a directory the stack owns (empty when it can).

    Args:
        path: The value of a directory variable.

    Returns:
        An empty string, or the reason in a few words.
    """
    shape = _path_shape_problem(path)
    if shape:
        return shape
    if path in SHARED_DIRS:
        return "it is a system directory; use a directory of its own below it"
    for system in SYSTEM_DIRS:
        if path == system or path.startswith(system + "/"):
            return f"it is inside the system directory {system}"
    return ""


def bf_ipv4_problem(value: Any) -> str:
    """Why value is not an IPv4 address in dotted-quad form (empty when it is).

    The standard library's parser, not a regular expression: it refuses octets above 255 and
    leading zeros (which some tools read as octal) alike.

    Args:
        value: The value of an address variable.

    Returns:
        An empty string, or the reason in a few words.
    """
    if not isinstance(value, str) or not value:
        return "it must be an IPv4 address such as 10.0.0.5"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return f"{value!r} is not an IPv4 address (four numbers 0-255, such as 10.0.0.5)"
    return ""


def bf_plugin_dir_problem(path: Any) -> str:
    """Why path cannot be the Docker CLI plugin directory Compose is copied into.

    Unlike a directory the stack owns, it lives below /usr (the CLI's system-wide
    /usr/local/lib/docker/cli-plugins) or in a DOCKER_CONFIG. The CLI looks for plugins only in
    directories named cli-plugins, and the role makes this one root's with mode 0755: so no
    system directory (/usr/local/bin, /etc...) can be it, and none is named so.

    Args:
        path: The value of bf_docker_cli_plugins_dir.

    Returns:
        An empty string, or the reason in a few words.
    """
    shape = _path_shape_problem(path)
    if shape:
        return shape
    if posixpath.basename(path) != "cli-plugins":
        return (
            "the Docker CLI finds plugins only in a directory named cli-plugins, such as"
            " /usr/local/lib/docker/cli-plugins"
        )
    return ""


def bf_int_problem(value: Any, low: int, high: int) -> str:
    """Why value is not a whole number from low to high (empty when it is).

    For values argument_specs cannot type, such as those of a dict: ``| int`` in Jinja would
    read 1.5 as 1 and "ten" as 0.

    Args:
        value: The value of a count, size or duration variable (or one of its entries).
        low: The smallest value allowed.
        high: The largest value allowed.

    Returns:
        An empty string, or the reason in a few words.
    """
    reason = f"it must be a whole number from {low} to {high}"
    # A bool is an int to Python; "yes" is no count.
    if isinstance(value, bool):
        return reason
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        return reason
    return ""


# What Swarm's update_config accepts (docs.docker.com/reference/compose-file/deploy/).
_UPDATE_CHOICES = {"order": ("start-first", "stop-first"),
                   "failure_action": ("continue", "pause", "rollback")}  # fmt: skip
_DURATION = re.compile(r"([0-9]+(ns|us|ms|s|m|h))+")


def bf_update_problem(policy: Any) -> str:
    """Why policy is not a Swarm update policy (empty when it is).

    Args:
        policy: The value of bf_stack_app_update or bf_stack_stateful_update.

    Returns:
        An empty string, or the reason, naming the key that is wrong.
    """
    if not isinstance(policy, dict):
        return "it must be a mapping such as {parallelism: 1, order: start-first}"
    known = {"parallelism", "delay", "monitor", "max_failure_ratio", *_UPDATE_CHOICES}
    unknown = sorted(str(key) for key in policy if key not in known)
    if unknown:
        return f"{', '.join(unknown)} is not an update_config key ({', '.join(sorted(known))})"
    for key, choices in _UPDATE_CHOICES.items():
        if key in policy and policy[key] not in choices:
            return f"its {key} must be {' or '.join(choices)}"
    if "parallelism" in policy and bf_int_problem(policy["parallelism"], 0, 100):
        return "its parallelism must be a whole number from 0 (all at once) to 100"
    for key in ("delay", "monitor"):
        if key in policy and not _DURATION.fullmatch(str(policy[key])):
            return f"its {key} must be a duration such as 0s, 15s or 1m30s"
    ratio = policy.get("max_failure_ratio", 0)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        return "its max_failure_ratio must be a number from 0 to 1"
    return ""


def bf_regex_problem(value: Any) -> str:
    """Why value is not a regular expression Ansible's ``search`` test can use (empty when it is).

    Args:
        value: The value of a regex variable.

    Returns:
        An empty string, or the reason in a few words.
    """
    if not isinstance(value, str) or not value:
        return "it must be a non-empty regular expression"
    try:
        re.compile(value)
    except re.error as exc:
        return f"it is not a regular expression ({exc})"
    return ""


class FilterModule:
    """Inventory value checks."""

    def filters(self) -> dict[str, Any]:
        """Return the filters of this plugin."""
        return {
            "bf_dir_problem": bf_dir_problem,
            "bf_int_problem": bf_int_problem,
            "bf_ipv4_problem": bf_ipv4_problem,
            "bf_plugin_dir_problem": bf_plugin_dir_problem,
            "bf_regex_problem": bf_regex_problem,
            "bf_update_problem": bf_update_problem,
        }
