"""Filter plugin: the stack's internal certificates, planned from the secret names that use them.

A service that names the secret ``<ca>_tls_ca`` trusts the private CA ``<ca>``; one that names
``<ca>_tls_<cn>_crt`` and ``<ca>_tls_<cn>_key`` holds a certificate of that CA whose common name
and only DNS name is ``<cn>``: its service name, which is how the other end reaches it
(pgBackRest checks both the name it dialled and, on the server side, the client's CN).
roles/bf_secrets issues what ``bf_secrets_names | bf_pki_plan(dir)`` lists on the controller and
delivers each file as the Swarm secret of the same name.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ansible.errors import AnsibleFilterError

_CA = re.compile(r"^(?P<ca>[a-z][a-z0-9]*)_tls_ca$")
_LEAF = re.compile(r"^(?P<ca>[a-z][a-z0-9]*)_tls_(?P<cn>[a-z][a-z0-9]*)_(?P<part>crt|key)$")


def bf_pki_plan(names: list[str], directory: str) -> dict[str, Any]:
    """Plan the CAs and certificates behind the TLS secrets among ``names``.

    Args:
        names: Secret names (the stack model's ``secrets``).
        directory: Controller directory of the PKI, one sub-directory per CA.

    Returns:
        ``{"cas": [{"name", "key", "crt"}], "certs": [{"ca", "cn", "key", "crt"}],
        "files": {secret: path}}``; a stack without TLS secrets gets empty lists.

    Raises:
        AnsibleFilterError: When a certificate lacks its key or its CA, or the other way round.
    """
    names = sorted({str(n) for n in names})
    cas = {m["ca"] for m in map(_CA.match, names) if m}
    leaves: dict[tuple[str, str], set[str]] = {}
    for match in filter(None, map(_LEAF.match, names)):
        leaves.setdefault((match["ca"], match["cn"]), set()).add(match["part"])
    problems = [
        f"{ca}_tls_{cn}_{'key' if parts == {'crt'} else 'crt'} is missing beside "
        f"{ca}_tls_{cn}_{''.join(parts)}"
        for (ca, cn), parts in sorted(leaves.items())
        if parts != {"crt", "key"}
    ]
    problems += [
        f"{ca}_tls_{cn}_crt has no CA secret {ca}_tls_ca in the stack"
        for (ca, cn) in sorted(leaves)
        if ca not in cas
    ]
    if problems:
        raise AnsibleFilterError("bf_pki_plan: " + "; ".join(problems))
    root = str(directory)
    plan: dict[str, Any] = {"cas": [], "certs": [], "files": {}}
    for ca in sorted(cas):
        entry = {
            "name": ca,
            "key": posixpath.join(root, ca, "ca.key"),
            "crt": posixpath.join(root, ca, "ca.crt"),
        }
        plan["cas"].append(entry)
        plan["files"][f"{ca}_tls_ca"] = entry["crt"]
    for ca, cn in sorted(leaves):
        entry = {
            "ca": ca,
            "cn": cn,
            "key": posixpath.join(root, ca, f"{cn}.key"),
            "crt": posixpath.join(root, ca, f"{cn}.crt"),
        }
        plan["certs"].append(entry)
        plan["files"][f"{ca}_tls_{cn}_crt"] = entry["crt"]
        plan["files"][f"{ca}_tls_{cn}_key"] = entry["key"]
    return plan


class FilterModule:
    """Ansible filters of the stack's internal PKI."""

    def filters(self) -> dict[str, Any]:
        """Map the filter names to their functions."""
        return {"bf_pki_plan": bf_pki_plan}
