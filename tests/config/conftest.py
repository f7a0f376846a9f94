"""Fixtures for the bf_config tests: real ansible-playbook runs against localhost.

Each playbook run costs tens of seconds on these machines (every module call forks a Python),
so the independent runs start together in threads at session start and the tests wait only
for the run they look at.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
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
SECRET_NAMES = (
    "postgres_password",
    "redis_password",
    "secret_key",
    "jwt_secret_key",
    "frontend_secret_key",
    "admin_password",
    "pgadmin_password",
)
SERVICES = ("api", "frontend", "nginx", "postgres", "redis", "pgadmin")
# Published ports the tests render; nothing listens on them (no stack is started).
HTTP_PORT = 18080
HTTPS_PORT = 18443


@dataclass
class Run:
    """One finished ansible-playbook run."""

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


def _nginx_image() -> str | None:
    """Find an nginx image for the `nginx -t` step: BF_TEST_NGINX_IMAGE, bf/nginx, or build it."""
    if os.environ.get("BF_TEST_NGINX_IMAGE"):
        return os.environ["BF_TEST_NGINX_IMAGE"]
    ref = _docker_image("bf/nginx")
    images_playbook = ROOT / "playbooks" / "images.yml"
    if ref is None and images_playbook.exists():
        subprocess.run(
            [str(ANSIBLE_PLAYBOOK), str(images_playbook)],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            check=False,
            timeout=1800,
        )
        ref = _docker_image("bf/nginx")
    return ref


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return env


def make_stack_dir(base: Path) -> Path:
    """Create a stack dir with generated secret files, as bf_secrets would."""
    stack = base / "stack"
    (stack / "secrets").mkdir(parents=True)
    for name in SECRET_NAMES:
        (stack / "secrets" / name).write_text(secrets.token_urlsafe(32))
    return stack


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
    return {str(p.relative_to(stack)): p.read_bytes() for p in stack.rglob("*") if p.is_file()}


class Harness:
    """Runs the role and hands out image refs."""

    def __init__(self) -> None:
        self.nginx_image = _nginx_image()
        self.images = {svc: _docker_image(f"bf/{svc}") or f"bf/{svc}:unbuilt" for svc in SERVICES}
        if self.nginx_image:
            self.images["nginx"] = self.nginx_image

    def run(self, stack: Path, app_dir: Path, **extra: object) -> Run:
        """Run tests/config/playbook.yml with bf_config against localhost."""
        images = dict(self.images)
        for manifest in app_dir.glob("*/service.yml"):
            images.setdefault(manifest.parent.name, f"bf/{manifest.parent.name}:unbuilt")
        variables = {
            "bf_stack_dir": str(stack),
            "bf_stack_name": "bf-config-test",
            "bf_config_app_dir": str(app_dir),
            "bf_config_images": images,
            "bf_http_port": HTTP_PORT,
            "bf_https_port": HTTPS_PORT,
            "bf_config_nginx_validate": self.nginx_image is not None,
            **extra,
        }
        vars_file = stack.parent / f"vars-{secrets.token_hex(4)}.json"
        vars_file.write_text(json.dumps(variables))
        result = subprocess.run(
            [
                str(ANSIBLE_PLAYBOOK),
                "-i",
                str(HERE / "inventory.yml"),
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
        return Run(stack, result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="session")
def harness() -> Harness:
    """The shared runner (finds the images once)."""
    return Harness()


def _bad_manifest(base: Path, case: str) -> tuple[Path, Path]:
    stack = make_stack_dir(base)
    app_dir = make_app_dir(base)
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
    return stack, app_dir


BAD_CASES = ("missing_key", "bad_port", "route_twice")


@pytest.fixture(scope="session")
def runs(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Start every playbook run of the suite at once; values are futures of Run (or lists)."""
    pool = ThreadPoolExecutor(max_workers=4)
    # mktemp is not thread-safe: every base dir is made here, before the threads start.
    bases = {name: tmp_path_factory.mktemp(name) for name in ("real", "extra", *BAD_CASES)}

    def real_tree_chain() -> list[Run]:
        base = bases["real"]
        stack = make_stack_dir(base)
        app_dir = make_app_dir(base)
        first = harness.run(stack, app_dir)
        first.snapshot = snapshot(stack)
        if first.returncode != 0:
            return [first]
        second = harness.run(stack, app_dir)
        second.snapshot = snapshot(stack)
        chain = [first, second]
        if harness.nginx_image:
            broken = harness.run(stack, app_dir, bf_config_client_max_body_size="10 potatoes")
            broken.snapshot = snapshot(stack)
            chain.append(broken)
        return chain

    def fixture_tree() -> Run:
        base = bases["extra"]
        stack = make_stack_dir(base)
        run = harness.run(stack, make_app_dir(base, FIXTURE_APPS))
        run.snapshot = snapshot(stack)
        return run

    def bad(case: str) -> Run:
        stack, app_dir = _bad_manifest(bases[case], case)
        before = snapshot(stack)
        run = harness.run(stack, app_dir)
        run.snapshot = snapshot(stack)
        assert set(before) <= set(run.snapshot)
        return run

    futures: dict[str, Future] = {
        "real": pool.submit(real_tree_chain),
        "extra": pool.submit(fixture_tree),
    }
    for case in BAD_CASES:
        futures[case] = pool.submit(bad, case)
    yield futures
    pool.shutdown(wait=True)
