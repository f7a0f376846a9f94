"""Filter plugin: checks of inventory values that are more than a regular expression.

Each filter returns an empty string when the value is fine, else the reason, so a preflight
assert can say exactly what is wrong with the variable it names.
"""

from __future__ import annotations

import ipaddress
import posixpath
from typing import Any

# A stack directory below one of these would mix the stack's files with the system's.
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc")
SYSTEM_DIRS += ("/run", "/sbin", "/sys", "/usr")
# ...and these may hold a stack directory below them, but are not one themselves.
# Names of directories to refuse, not files this code opens (S108 is about the latter).
SHARED_DIRS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var")  # noqa: S108
SHARED_DIRS += ("/var/lib", "/var/tmp", "/var/log", "/var/cache")  # noqa: S108


def bf_dir_problem(path: Any) -> str:
    """Why path cannot be a directory the stack owns (empty when it can).

    Args:
        path: The value of a directory variable.

    Returns:
        An empty string, or the reason in a few words.
    """
    if not isinstance(path, str) or not path:
        return "it must be a non-empty absolute path"
    if not path.startswith("/"):
        return "it must be an absolute path (starting with /)"
    if any(ch.isspace() or ord(ch) < 32 for ch in path):
        return "it may not contain spaces or control characters"
    if posixpath.normpath(path) != path or path.startswith("//"):
        return f"it must be written normalised, as {posixpath.normpath(path)}"
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


class FilterModule:
    """Inventory value checks."""

    def filters(self) -> dict[str, Any]:
        """Return the filters of this plugin."""
        return {"bf_dir_problem": bf_dir_problem, "bf_ipv4_problem": bf_ipv4_problem}
