"""Redeploy a code change under load and count what the clients saw (issue 11).

Run by benchmarks/rolling.sh. Each round changes one line of the API and of the frontend (in a
copy of app/, never the repository's tree), runs site.yml while a bounded load (molecule/bf_load.py:
RATE requests a second to each of /, /api/products and /api/health/ready through the edge) runs,
and reports requests sent, failed, the deploy's wall time, and the time from the start of the
deploy until every path answers from the new release.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "molecule"))
from bf_load import PATHS, Load, changed_app_tree  # noqa: E402

RATE = 5.0


def _vars(inventory: str) -> dict:
    """The edge's address, port, server name and the stack directory, from the inventory."""
    msg = (
        "msg={{ {'dir': bf_stack_dir, 'name': bf_server_name, 'port': bf_https_port,"
        " 'addr': bf_bind_address} | to_json }}"
    )
    argv = [str(REPO / ".venv/bin/ansible"), "bf_edge[0]", "-i", inventory, "-o",
            "-m", "ansible.builtin.debug", "-a", msg]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=REPO).stdout  # noqa: S603
    return json.loads(json.loads(out.split("=>", 1)[1])["msg"])


def _site(inventory: str, tree: Path, extra: list[str], log: Path) -> float:
    start = time.monotonic()
    with log.open("w") as handle:
        proc = subprocess.run(  # noqa: S603 - the repository's own playbook
            [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/site.yml", "-i", inventory,
             "-e", f"bf_app_dir={tree}", *extra],
            stdout=handle, stderr=subprocess.STDOUT, check=False, cwd=REPO,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        )  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"site.yml failed, see {log}:\n" + log.read_text()[-4000:])
    return time.monotonic() - start


def main() -> None:
    """Usage: rolling.py INVENTORY WORKDIR ROUNDS [ansible-playbook args...]."""
    inventory, work, rounds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    extra = sys.argv[4:]
    v = _vars(inventory)
    addr = "127.0.0.1" if v["addr"] == "0.0.0.0" else v["addr"]  # noqa: S104 - a comparison
    cert = str(Path(v["dir"]) / "config/nginx/tls/fullchain.pem")
    tree = changed_app_tree(work / "app", api="r0", frontend="r0")
    _site(inventory, tree, extra, work / "baseline.log")
    rows = []
    for n in range(1, rounds + 1):
        tree = changed_app_tree(work / "app", api=f"r{n}", frontend=f"r{n}")
        load = Load(f"https://{addr}:{v['port']}", v["name"], f"{v['name']}:{v['port']}", cert,
                    rate=RATE)  # fmt: skip
        with load:
            time.sleep(3)
            old = {p: next(s.release for s in reversed(load.samples) if s.path == p) for p in PATHS}
            start = time.monotonic()
            wall = _site(inventory, tree, extra, work / f"round{n}.log")
            time.sleep(8)
        # Until every path answers only from a release other than the old one.
        switched = []
        for path in PATHS:
            olds = [s.sent for s in load.samples if s.path == path and s.release == old[path]]
            last_old = max(olds, default=start)
            switched.append(last_old - start)
        rows.append({"sent": len(load.samples), "failed": len(load.failures()), "wall": wall,
                     "switch": max(switched)})  # fmt: skip
        print(f"round {n}: {rows[-1]}\n{load.summary()}", flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in ("sent", "failed", "wall", "switch")}
    print(
        f"rounds {rounds}; per round: requests sent {[r['sent'] for r in rows]}, failed "
        f"{[r['failed'] for r in rows]}, site.yml wall {[round(r['wall']) for r in rows]} s, "
        f"start of deploy -> new release everywhere {[round(r['switch']) for r in rows]} s\n"
        f"median: sent {med['sent']:.0f}, failed {med['failed']:.0f}, wall {med['wall']:.0f} s, "
        f"switch {med['switch']:.0f} s"
    )


if __name__ == "__main__":
    main()
