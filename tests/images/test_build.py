"""The images playbook: content tags, caching, and the swap-in of external images."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import docker
import pytest
from conftest import SERVICES, PlaybookRun, copy_app_tree, run_images_playbook


def test_every_service_has_a_content_tagged_image(
    first_run: PlaybookRun, docker_client: docker.DockerClient
) -> None:
    assert set(first_run.refs) == set(SERVICES)
    for service, ref in first_run.refs.items():
        assert re.fullmatch(rf"bf/{service}:[0-9a-f]{{12}}", ref), ref
        docker_client.images.get(ref)


def test_base_image_records_its_inputs(
    first_run: PlaybookRun, docker_client: docker.DockerClient
) -> None:
    bases = [
        i
        for i in docker_client.images.list(name="bf/debian")
        if any(t.startswith("bf/debian:bookworm-") for t in i.tags)
    ]
    assert bases, "no bf/debian:bookworm-* base image"
    config = bases[0].attrs["Config"]
    labels = config["Labels"]
    assert labels["io.backend-framework.base.suite"] == "bookworm"
    assert labels["io.backend-framework.base.mirror"].startswith("http")
    assert re.fullmatch(r"\d{8}T\d{6}Z", labels["io.backend-framework.base.date"])
    assert config["Cmd"] == ["bash"]
    assert "LANG=C.UTF-8" in config["Env"]
    assert any(e.startswith("PATH=/usr/local/sbin:") for e in config["Env"])


def test_second_run_changes_nothing(first_run: PlaybookRun, app_copy: Path) -> None:
    again = run_images_playbook(app_copy)
    assert again.changed == 0
    assert again.refs == first_run.refs


def test_changed_app_file_rebuilds_only_that_service(
    first_run: PlaybookRun, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    app = copy_app_tree(tmp_path / "app")
    (app / "api" / "touched_by_image_test.txt").write_text("a change in the api's context\n")
    run = run_images_playbook(app)
    try:
        assert run.built == {"api"}
        assert run.refs["api"] != first_run.refs["api"]
        others = {k: v for k, v in run.refs.items() if k != "api"}
        assert others == {k: v for k, v in first_run.refs.items() if k != "api"}
    finally:
        if run.refs.get("api") and run.refs["api"] != first_run.refs["api"]:
            docker_client.images.remove(run.refs["api"])


def test_external_reference_replaces_a_build(first_run: PlaybookRun, app_copy: Path) -> None:
    run = run_images_playbook(app_copy, bf_images_external={"postgres": "postgres:15"})
    assert run.refs["postgres"] == "postgres:15"
    assert run.built == set()
    assert {k: v for k, v in run.refs.items() if k != "postgres"} == {
        k: v for k, v in first_run.refs.items() if k != "postgres"
    }


@pytest.mark.parametrize("service", SERVICES)
def test_final_image_has_no_compiler_or_package_cache(
    refs: dict[str, str], docker_client: docker.DockerClient, service: str
) -> None:
    container = docker_client.containers.run(
        refs[service],
        entrypoint=["/bin/sh", "-c"],
        command=[
            "for c in gcc cc x86_64-linux-gnu-gcc-12; do command -v $c; done;"
            " ls /var/lib/apt/lists /var/cache/apt/archives"
            " | grep -v -e partial -e lock -e '^/' -e '^$'; true"
        ],
        user="0",
        detach=True,
        network_disabled=True,
        labels={"io.backend-framework.test": "images"},
    )
    try:
        container.wait(timeout=60)
        out = container.logs().decode()
    finally:
        # v=True: the images that declare a VOLUME would otherwise leave an anonymous volume
        # behind on every run (run(remove=True) keeps them).
        container.remove(force=True, v=True)
    assert out.strip() == "", f"{service}: {out}"


@pytest.mark.parametrize("service", SERVICES)
def test_image_config_is_unprivileged_and_has_a_healthcheck(
    refs: dict[str, str], docker_client: docker.DockerClient, service: str
) -> None:
    config = docker_client.images.get(refs[service]).attrs["Config"]
    assert config.get("Healthcheck", {}).get("Test"), f"{service} has no HEALTHCHECK"
    if service == "postgres":
        # Starts as root to fix the volume's ownership, then drops (test_containers checks it).
        assert config.get("User", "") in ("", "root", "0")
    else:
        assert config.get("User", "") not in ("", "root", "0", "0:0"), config.get("User")
    assert not any(re.search(r"PASSWORD=|SECRET_KEY=", env) for env in config.get("Env") or []), (
        json.dumps(config.get("Env"))
    )


def test_app_images_drain_before_they_stop(
    first_run: PlaybookRun, docker_client: docker.DockerClient
) -> None:
    """bf-drain keeps the server running after SIGTERM for BF_DRAIN_SECONDS, then passes it on."""
    server = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('server got SIGTERM', flush=True),"
        " sys.exit(0)))\n"
        "while True:\n"
        "    print('serving', flush=True)\n"
        "    time.sleep(0.25)\n"
    )
    container = docker_client.containers.run(
        first_run.refs["api"],
        ["bf-drain", "python3", "-c", server],
        environment={"BF_DRAIN_SECONDS": "2"},
        detach=True,
        init=True,
    )
    try:
        for _ in range(40):
            if b"serving" in container.logs():
                break
            time.sleep(0.25)
        container.stop(timeout=20)
        status = container.wait(timeout=30)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, logs
    message = "bf-drain: SIGTERM, serving 2s more"
    drain_at = logs.index(message) + len(message)
    term_at = logs.index("server got SIGTERM")
    # It kept serving between the SIGTERM and the moment it passed it on (4 lines a second).
    assert logs[drain_at:term_at].count("serving") >= 4, logs
