"""Kept releases and rollback plans (plugins/module_utils/bf_releases.py), and the image tags a
node prunes (plugins/modules/bf_image_prune.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from model_helpers import load_plugin, releases_utils

rel = releases_utils
LABEL = rel.RELEASE_LABEL


def _svc(image: str, release: str, key: str = "secret_key") -> dict[str, Any]:
    return {
        "image": image,
        "labels": {LABEL: release},
        "secrets": [{"source": key, "target": "secret_key"}],
    }


def _doc(api: str, frontend: str, secret_version: int = 1) -> dict[str, Any]:
    return {
        "version": "3.8",
        "services": {
            "api": _svc(f"bf/api:{api}", f"api-{api}"),
            "frontend": _svc(f"bf/frontend:{frontend}", f"fe-{frontend}"),
        },
        "networks": {"edge": {"driver": "overlay"}},
        "secrets": {"secret_key": {"external": True, "name": f"shop_secret_key_v{secret_version}"}},
    }


def _history(*docs: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    index: list[dict[str, Any]] = []
    documents = {}
    for n, doc in enumerate(docs):
        index, _, _ = rel.record(index, doc, f"r{n}", f"2026-12-03T10:0{n}:00+00:00", keep=5)
        documents[f"r{n}"] = doc
    return index, documents


def test_a_deploy_is_recorded_once_per_distinct_stack_file() -> None:
    index, changed, dropped = rel.record([], _doc("a", "a"), "r0", "t0", keep=5)
    assert changed and not dropped and [e["id"] for e in index] == ["r0"]
    again, changed, _ = rel.record(index, copy.deepcopy(_doc("a", "a")), "r1", "t1", keep=5)
    assert not changed and again == index
    assert index[0]["services"] == {"api": "api-a", "frontend": "fe-a"}
    assert index[0]["images"] == ["bf/api:a", "bf/frontend:a"]


def test_only_the_newest_releases_are_kept_and_their_images() -> None:
    index: list[dict[str, Any]] = []
    for n in range(4):
        index, _, dropped = rel.record(index, _doc(str(n), "x"), f"r{n}", f"t{n}", keep=3)
    assert [e["id"] for e in index] == ["r1", "r2", "r3"] and dropped == ["r0"]
    assert rel.kept_images(index) == ["bf/api:1", "bf/api:2", "bf/api:3", "bf/frontend:x"]
    with pytest.raises(rel.PlanError):
        rel.record(index, _doc("9", "x"), "r9", "t9", keep=0)


def test_the_whole_stack_returns_to_the_release_before_the_newest() -> None:
    index, documents = _history(_doc("a", "a"), _doc("b", "b"))
    planned = rel.plan(index, documents)
    assert planned["target"] == "r0" and planned["document"] == documents["r0"]
    assert planned["releases"] == {"api": "api-a", "frontend": "fe-a"}


def test_a_service_returns_to_its_newest_different_release_the_others_stay() -> None:
    # r1 changed only the frontend, r2 only the api: the api's previous release is in r1.
    index, documents = _history(_doc("a", "a"), _doc("a", "b"), _doc("c", "b"))
    planned = rel.plan(index, documents, service="frontend")
    assert planned["target"] == "r0"
    assert planned["releases"] == {"api": "api-c", "frontend": "fe-a"}
    planned = rel.plan(index, documents, service="api")
    assert planned["releases"] == {"api": "api-a", "frontend": "fe-b"}


def test_two_services_rolled_back_in_turn_both_stay_back() -> None:
    index, documents = _history(_doc("a", "a"), _doc("b", "b"))
    first = rel.plan(index, documents, service="api")["document"]
    second = rel.plan(index, documents, service="frontend", base=first)
    assert second["releases"] == {"api": "api-a", "frontend": "fe-a"}
    # Planned again from what runs now: the same file, so a second run changes nothing.
    assert rel.plan(index, documents, service="frontend", base=second["document"]) == second


def test_a_named_release_by_id_or_by_the_services_label() -> None:
    index, documents = _history(_doc("a", "a"), _doc("b", "b"), _doc("c", "c"))
    assert rel.plan(index, documents, to="r0")["target"] == "r0"
    assert rel.plan(index, documents, service="api", to="api-b")["releases"]["api"] == "api-b"
    with pytest.raises(rel.PlanError, match="no kept release 'api-z'.*r2 \\(api: api-c\\)"):
        rel.plan(index, documents, service="api", to="api-z")


def test_a_rolled_back_service_keeps_the_secret_version_it_ran_with() -> None:
    # A rotated secret is a new release: the old api reads version 1, the rest version 2.
    index, documents = _history(_doc("a", "a", secret_version=1), _doc("a", "b", secret_version=2))
    planned = rel.plan(index, documents, service="frontend")["document"]
    ref = planned["services"]["frontend"]["secrets"][0]
    assert ref == {"source": "shop_secret_key_v1", "target": "secret_key"}
    assert planned["secrets"]["shop_secret_key_v1"]["name"] == "shop_secret_key_v1"
    assert planned["services"]["api"]["secrets"][0]["source"] == "secret_key"
    assert planned["secrets"]["secret_key"]["name"] == "shop_secret_key_v2"


def test_nothing_to_return_to_is_a_clear_error() -> None:
    with pytest.raises(rel.PlanError, match="deploy with site.yml first"):
        rel.plan([], {})
    index, documents = _history(_doc("a", "a"))
    with pytest.raises(rel.PlanError, match="only one release is kept"):
        rel.plan(index, documents)
    index, documents = _history(_doc("a", "a"), _doc("a", "b"))
    with pytest.raises(rel.PlanError, match="every kept release runs api as api-a"):
        rel.plan(index, documents, service="api")
    with pytest.raises(rel.PlanError, match="no service 'shop'.*api, frontend"):
        rel.plan(index, documents, service="shop")


def test_only_the_images_of_dropped_releases_are_pruned() -> None:
    index: list[dict[str, Any]] = []
    old = index
    for n, api in enumerate(("1", "2", "3")):
        old = index
        # The frontend image stays the same: still named by a kept release, never pruned.
        index, _, _ = rel.record(index, _doc(api, "x"), f"r{n}", f"t{n}", keep=2)
    assert rel.released_images(old, index) == ["bf/api:1"]
    # A record that drops nothing releases nothing.
    again, _, _ = rel.record(index, _doc("3", "x"), "r9", "t9", keep=2)
    assert rel.released_images(index, again) == []


def test_a_node_removes_only_the_tags_it_has() -> None:
    prune = load_plugin("modules/bf_image_prune.py", "bf_image_prune_module")
    images = [
        {"RepoTags": ["bf/api:1", "bf/api:1-other"]},
        {"RepoTags": ["bf/python:base1"]},
        {"RepoTags": None},
    ]
    assert prune.present(images, ["bf/api:1", "bf/api:0"]) == ["bf/api:1"]
