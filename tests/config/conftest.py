"""Fixtures for the bf_config tests: real ansible-playbook runs against this machine's swarm.

Each run renders a stack of its own name (its Swarm secrets and configs carry the stack label and
are removed at the end); nothing is deployed. Each playbook run costs tens of seconds on these
machines, so the independent runs start together in threads at session start and the tests wait
only for the run they look at.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APP_DIR = ROOT / "app"
FIXTURE_APPS = ROOT / "tests" / "fixtures" / "app_extra"
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
SERVICES = ("api", "frontend", "nginx", "postgres", "redis", "pgadmin")
# Published ports the tests render; nothing listens on them (no stack is deployed).
HTTP_PORT = 18080
HTTPS_PORT = 18443
# Every stack of this suite starts with this, so the cleanup finds exactly its objects.
STACK_PREFIX = "bfcfg"


@dataclass
class Run:
    """One finished ansible-playbook run."""

    stack: str
    stack_dir: Path
    returncode: int
    output: str
    snapshot: dict[str, bytes] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        """Number of changed tasks from the PLAY RECAP line."""
        match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", self.output)
        assert match, self.output[-3000:]
        return int(match.group(1))

    def swarm_config(self, name: str, version: int | None = None) -> str:
        """The content of one version (default: the newest) of one of the stack's configs."""
        found = subprocess.run(
            ["docker", "config", "ls", "--format", "{{.Name}}", "--filter",
             f"name={self.stack}_{name}_v"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert found, f"no Swarm config {self.stack}_{name}_v*"
        newest = max(found, key=lambda n: int(n.rsplit("_v", 1)[1]))
        if version is not None:
            newest = f"{self.stack}_{name}_v{version}"
        data = subprocess.run(
            ["docker", "config", "inspect", "--format", "{{json .Spec.Data}}", newest],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        import base64

        return base64.b64decode(json.loads(data)).decode()


def _docker_image(repository: str) -> str | None:
    """Return the newest local image ref of a repository, or None."""
    result = subprocess.run(
        ["docker", "images", repository, "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    refs = [line for line in result.stdout.splitlines() if line and not line.endswith(":<none>")]
    return refs[0] if refs else None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_CACHE_PLUGIN"] = "memory"
    return env


def make_app_dir(base: Path, extra: Path | None = None) -> Path:
    """Copy app/ (manifests and static files only) to base/app, plus the folders of extra."""
    target = base / "app"
    for manifest in APP_DIR.glob("*/service.yml"):
        (target / manifest.parent.name).mkdir(parents=True)
        shutil.copy(manifest, target / manifest.parent.name / "service.yml")
        data = yaml.safe_load(manifest.read_text())
        if "static" in data:
            shutil.copytree(APP_DIR / data["static"]["dir"], target / data["static"]["dir"])
    if extra is not None:
        shutil.copytree(extra, target, dirs_exist_ok=True)
    return target


def snapshot(stack: Path) -> dict[str, bytes]:
    """Contents of every file under the stack dir, by relative path."""
    if not stack.exists():
        return {}
    return {str(p.relative_to(stack)): p.read_bytes() for p in stack.rglob("*") if p.is_file()}


class Harness:
    """Runs the roles and hands out image refs."""

    def __init__(self) -> None:
        self.images = {svc: _docker_image(f"bf/{svc}") or f"bf/{svc}:unbuilt" for svc in SERVICES}
        self.nginx_built = not self.images["nginx"].endswith(":unbuilt")

    def run(self, base: Path, app_dir: Path, stack: str, **extra: object) -> Run:
        """Run tests/config/playbook.yml against localhost, as the stack named stack."""
        images = dict(self.images)
        for manifest in app_dir.glob("*/service.yml"):
            images.setdefault(manifest.parent.name, f"bf/{manifest.parent.name}:unbuilt")
        stack_dir = base / "stack"
        stack_dir.mkdir(exist_ok=True)
        variables = {
            "bf_stack_dir": str(stack_dir),
            "bf_stack_name": stack,
            "bf_app_dir": str(app_dir),
            "bf_images_refs": images,
            "bf_http_port": HTTP_PORT,
            "bf_https_port": HTTPS_PORT,
            "bf_secrets_credentials_dir": str(base / "credentials"),
            "bf_config_nginx_validate": self.nginx_built,
            **extra,
        }
        vars_file = base / f"vars-{secrets.token_hex(4)}.json"
        vars_file.write_text(json.dumps(variables))
        result = subprocess.run(
            [
                str(ANSIBLE_PLAYBOOK),
                "-i",
                str(HERE / "inventory"),
                str(HERE / "playbook.yml"),
                "-e",
                f"@{vars_file}",
            ],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        run = Run(stack, stack_dir, result.returncode, result.stdout + result.stderr)
        run.snapshot = snapshot(stack_dir)
        return run


def _remove_stack_objects() -> None:
    """Remove every Swarm secret and config a run of this suite made."""
    for kind in ("secret", "config"):
        names = subprocess.run(
            ["docker", kind, "ls", "--format", "{{.Name}}"], capture_output=True, text=True
        ).stdout.split()
        ours = [name for name in names if name.startswith(f"{STACK_PREFIX}-")]
        if ours:
            subprocess.run(["docker", kind, "rm", *ours], capture_output=True, check=False)


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    """The shared runner (finds the images once); removes the runs' Swarm objects at the end."""
    _remove_stack_objects()
    yield Harness()
    _remove_stack_objects()


def _bad_manifest(app_dir: Path, case: str) -> None:
    api = app_dir / "api" / "service.yml"
    data = yaml.safe_load(api.read_text())
    if case == "missing_key":
        del data["wsgi"]
    elif case == "bad_port":
        data["port"] = 80
    elif case == "route_twice":
        shutil.copytree(FIXTURE_APPS, app_dir, dirs_exist_ok=True)
        reports = app_dir / "reports" / "service.yml"
        other = yaml.safe_load(reports.read_text())
        other["route"] = data["route"]
        reports.write_text(yaml.safe_dump(other))
    api.write_text(yaml.safe_dump(data))


BAD_CASES = ("missing_key", "bad_port", "route_twice")


@pytest.fixture(scope="session")
def runs(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future]]:
    """Start every playbook run of the suite at once; values are futures of Run (or lists)."""
    pool = ThreadPoolExecutor(max_workers=4)
    # mktemp is not thread-safe: every base dir is made here, before the threads start.
    bases = {name: tmp_path_factory.mktemp(name) for name in ("real", "extra", *BAD_CASES)}
    tag = secrets.token_hex(3)

    def real_tree_chain() -> list[Run]:
        base = bases["real"]
        app_dir = make_app_dir(base)
        stack = f"{STACK_PREFIX}-real-{tag}"
        first = harness.run(base, app_dir, stack)
        if first.returncode != 0:
            return [first]
        chain = [first, harness.run(base, app_dir, stack)]
        # One uWSGI option changed: a new config version for each app, nothing else.
        chain.append(harness.run(base, app_dir, stack, bf_stack_uwsgi_threads=2))
        if harness.nginx_built:
            # A value the role's own preflight would refuse, let through (as if an older
            # preflight had passed it): nginx -t is the last line, and the live file stays.
            chain.append(
                harness.run(
                    base,
                    app_dir,
                    stack,
                    bf_config_client_max_body_size="10 potatoes",
                    bf_preflight_passed=True,
                )
            )
        return chain

    def fixture_tree() -> Run:
        base = bases["extra"]
        app_dir = make_app_dir(base, FIXTURE_APPS)
        return harness.run(base, app_dir, f"{STACK_PREFIX}-extra-{tag}")

    def bad(case: str) -> Run:
        base = bases[case]
        app_dir = make_app_dir(base)
        _bad_manifest(app_dir, case)
        return harness.run(base, app_dir, f"{STACK_PREFIX}-{case.replace('_', '-')}-{tag}")

    futures: dict[str, Future] = {
        "real": pool.submit(real_tree_chain),
        "extra": pool.submit(fixture_tree),
    }
    for case in BAD_CASES:
        futures[case] = pool.submit(bad, case)
    yield futures
    pool.shutdown(wait=True)
