#!/usr/bin/env bash
# Time a cold converge of site.yml (images already built, no containers, no volumes), a no-op
# re-run, and plain `docker compose up -d --wait` on the same rendered compose.yml.
# Usage: benchmarks/deploy.sh [inventory]   (default inventories/local; run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/local}
export ANSIBLE_CONFIG=$PWD/ansible.cfg
playbook=(.venv/bin/ansible-playbook playbooks/site.yml -i "$inventory")
stack_dir=$(.venv/bin/ansible 'bf_docker_hosts[0]' -i "$inventory" -m ansible.builtin.debug \
  -a 'msg={{ bf_stack_dir }}' | sed -n 's/^ *msg: //p')
project=$(.venv/bin/ansible 'bf_docker_hosts[0]' -i "$inventory" -m ansible.builtin.debug \
  -a 'msg={{ bf_stack_name }}' | sed -n 's/^ *msg: //p')
compose=(docker compose --project-name "$project" --project-directory "$stack_dir" -f "$stack_dir/compose.yml")

seconds() { local start=$SECONDS; "$@" >/tmp/bf-bench.log 2>&1 || { tail -40 /tmp/bf-bench.log; exit 1; }; echo $((SECONDS - start)); }

"${playbook[@]}" >/dev/null    # everything built and rendered once, so only the deploy is timed
"${compose[@]}" down --volumes --timeout 10 >/dev/null 2>&1
cold=$(seconds "${playbook[@]}")
noop=$(seconds "${playbook[@]}")
grep -E '^\S+ +: ok=' /tmp/bf-bench.log
"${compose[@]}" down --volumes --timeout 10 >/dev/null 2>&1
plain=$(seconds "${compose[@]}" up -d --wait)
"${playbook[@]}" >/dev/null    # leave the stack as site.yml wants it (migrated, admin present)

printf '%-52s %5ss\n' "site.yml, cold converge (no containers, no volumes)" "$cold" \
  "site.yml, no-op re-run" "$noop" \
  "docker compose up -d --wait (same compose.yml, cold)" "$plain"
