"""The kept releases of a stack: what each deploy ran, and the plan of a rollback to one of them.

A deploy (bf_deploy) records the stack file it deployed, once per distinct file, in a directory
on the manager: ``<id>.yml`` and ``index.json`` (oldest first). ``playbooks/rollback.yml`` reads
them back and deploys an older one, whole or for one service, through the same rolling update.
Everything here is a pure function of those documents, so it is unit-tested without an engine.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

RELEASE_LABEL = "io.backend-framework.release"


class PlanError(ValueError):
    """A rollback that cannot be planned; the message says why and what to ask for instead."""


def document_hash(document: dict[str, Any]) -> str:
    """A stable hash of a stack file's content (key order does not matter)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def service_releases(document: dict[str, Any]) -> dict[str, str]:
    """The release label of every service of a stack file."""
    return {
        name: (svc.get("labels") or {}).get(RELEASE_LABEL, "")
        for name, svc in sorted((document.get("services") or {}).items())
    }


def images(document: dict[str, Any]) -> list[str]:
    """The image references a stack file names."""
    return sorted({svc["image"] for svc in (document.get("services") or {}).values()})


def entry(document: dict[str, Any], record_id: str, when: str) -> dict[str, Any]:
    """The index entry of one recorded stack file."""
    return {
        "id": record_id,
        "time": when,
        "hash": document_hash(document),
        "services": service_releases(document),
        "images": images(document),
    }


def record(
    index: list[dict[str, Any]], document: dict[str, Any], record_id: str, when: str, keep: int
) -> tuple[list[dict[str, Any]], bool, list[str]]:
    """Add a deployed stack file to the index unless it is the newest one already.

    Returns:
        The new index (oldest first, at most ``keep`` entries), whether it changed, and the ids
        of the entries dropped (their files are to be removed).
    """
    if keep < 1:
        raise PlanError("at least one release must be kept")
    index = copy.deepcopy(index)
    digest = document_hash(document)
    changed = not index or index[-1]["hash"] != digest
    if changed:
        index.append(entry(document, record_id, when))
    dropped = [e["id"] for e in index[:-keep]]
    return index[-keep:], changed or bool(dropped), dropped


def kept_images(index: list[dict[str, Any]]) -> list[str]:
    """Every image a kept release names: the ones no node may prune."""
    return sorted({ref for e in index for ref in e["images"]})


def released_images(old_index: list[dict[str, Any]], new_index: list[dict[str, Any]]) -> list[str]:
    """The images of the releases that ``record`` dropped and that no kept release names.

    Only these are pruned: an image this stack never deployed (another stack's on a shared
    engine, a build not deployed yet) is never touched.
    """
    kept = set(kept_images(new_index))
    ids = {e["id"] for e in new_index}
    return sorted({ref for e in old_index if e["id"] not in ids for ref in e["images"]} - kept)


def _find(index: list[dict[str, Any]], wanted: str, service: str | None) -> dict[str, Any]:
    matches = [
        e
        for e in index
        if e["id"] == wanted or (service is not None and e["services"].get(service) == wanted)
    ]
    if not matches:
        known = ", ".join(
            f"{e['id']} ({service}: {e['services'].get(service, '-')})" if service else e["id"]
            for e in reversed(index)
        )
        raise PlanError(f"no kept release {wanted!r}; the kept ones, newest first: {known}")
    return matches[-1]


def _retarget_refs(
    service_doc: dict[str, Any], source: dict[str, Any], target: dict[str, Any], kind: str
) -> None:
    """Point a service's secret or config refs at the external objects its release used.

    The two documents may map the same key (``secret_key``) to different versions; a key can
    name one object only, so the rolled-back service refers to its version by the external name
    itself, which is unique. The file inside the container (``target``) stays the same.
    """
    refs = service_doc.get(kind) or []
    top = target.setdefault(kind, {})
    for ref in refs:
        key = ref["source"]
        wanted = source.get(kind, {}).get(key)
        if wanted is None:
            raise PlanError(f"the recorded stack file names no {kind[:-1]} {key!r}")
        if top.get(key) == wanted:
            continue
        external = wanted.get("name", key)
        ref["source"] = external
        top[external] = copy.deepcopy(wanted)


def plan(
    index: list[dict[str, Any]],
    documents: dict[str, dict[str, Any]],
    service: str | None = None,
    to: str | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stack file that returns the stack, or one service, to an older kept release.

    Args:
        index: The kept releases, oldest first.
        documents: The recorded stack file of every entry, by id.
        service: Only this service (None: the whole stack).
        to: A record id, or (with ``service``) one of the service's release labels. None: the
            release before the newest deploy (for a service, the newest kept release in which
            it differs from the newest deploy).
        base: The stack file running now (a service rollback changes only that service in
            it, so two services rolled back one after the other both stay back). None: the
            newest recorded one.

    Returns:
        ``{"document", "target": record id, "releases": {service: release}}``.

    Raises:
        PlanError: Nothing to return to, or an unknown release or service.
    """
    if not index:
        raise PlanError("no release was recorded yet: deploy with site.yml first")
    latest = index[-1]
    if service is not None and service not in latest["services"]:
        raise PlanError(
            f"no service {service!r} in the deployed stack; its services: "
            + ", ".join(sorted(latest["services"]))
        )
    if to is not None:
        chosen = _find(index, to, service)
    elif service is None:
        if len(index) < 2:
            raise PlanError(f"only one release is kept ({latest['id']}): nothing to return to")
        chosen = index[-2]
    else:
        older = [
            e
            for e in index[:-1]
            if e["services"].get(service) not in (None, latest["services"][service])
        ]
        if not older:
            raise PlanError(
                f"every kept release runs {service} as {latest['services'][service]}: "
                "nothing to return to"
            )
        chosen = older[-1]
    source = documents[chosen["id"]]
    if service is None:
        document = copy.deepcopy(source)
    else:
        if service not in source.get("services", {}):
            raise PlanError(f"release {chosen['id']} has no service {service!r}")
        document = copy.deepcopy(base if base is not None else documents[latest["id"]])
        service_doc = copy.deepcopy(source["services"][service])
        for kind in ("secrets", "configs"):
            _retarget_refs(service_doc, source, document, kind)
        for kind in ("networks", "volumes"):
            for key, value in (source.get(kind) or {}).items():
                document.setdefault(kind, {}).setdefault(key, copy.deepcopy(value))
        document["services"][service] = service_doc
    return {
        "document": document,
        "target": chosen["id"],
        "releases": service_releases(document),
    }
