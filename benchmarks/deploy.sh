#!/usr/bin/env bash
# Time deploys of site.yml on one inventory (default inventories/local), with the images
# already built: a cold deploy (no stack: no services, secrets, configs or volumes), then rounds
# of a no-op re-run (it must report changed=0) and a deploy after a one-line change to the API's
# code. The changes are made in a copy of app/ (bf_app_dir), never in the repository's own tree;
# every run uses that copy, so only the changes build anything.
# Usage: benchmarks/deploy.sh [inventory] [rounds, default 3]   (as root on the local inventory)
# Results: benchmarks/results/deploy.txt (appended, with the machine's load at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/local}
rounds=${2:-3}
export ANSIBLE_CONFIG=$PWD/ansible.cfg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a app "$work/app"
find "$work/app" -name __pycache__ -prune -exec rm -rf {} +
playbook=(.venv/bin/ansible-playbook playbooks/site.yml -i "$inventory" -e "bf_app_dir=$work/app")
stack=$(.venv/bin/ansible 'bf_swarm_managers[0]' -i "$inventory" -m ansible.builtin.debug \
  -a 'msg={{ bf_stack_name }}' | sed -n 's/^ *msg: //p')

# seconds <log> <command...>: run it, print its wall time in seconds (fails loudly).
seconds() {
  local log=$1 start
  shift
  start=$(date +%s%N)
  "$@" >"$log" 2>&1 || { tail -60 "$log" >&2; exit 1; }
  echo $(( ($(date +%s%N) - start + 500000000) / 1000000000 ))
}
recap() { grep -E '^\S+ +: ok=' "$1" | sed -E 's/ +/ /g' | cut -d' ' -f1-5 | tr '\n' ' '; }

remove_stack() {
  docker stack rm "$stack" >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && break
    sleep 1
  done
  for kind in secret config; do
    ids=$(docker "$kind" ls -q --filter "label=com.docker.stack.namespace=$stack")
    [ -z "$ids" ] || docker "$kind" rm $ids >/dev/null
  done
  ids=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack")
  [ -z "$ids" ] || docker volume rm $ids >/dev/null
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
"${playbook[@]}" >"$work/warm.log" 2>&1 || { tail -60 "$work/warm.log"; exit 1; }  # images built
remove_stack
cold=$(seconds "$work/cold.log" "${playbook[@]}")
# Rounds of (no-op, one-line change), interleaved: one run alone says little on a shared
# 2-core machine, so each figure is the median of the rounds, with every round's value after it.
noops=() changes=()
for round in $(seq "$rounds"); do
  noops+=("$(seconds "$work/noop.log" "${playbook[@]}")")
  noop_recap=$(recap "$work/noop.log")
  grep -qE '^\S+ +: ok=[0-9]+ +changed=0 ' "$work/noop.log" \
    || { echo "the no-op re-run changed something: $noop_recap" >&2; exit 1; }
  echo "# benchmarks/deploy.sh: one-line change $round" >>"$work/app/api/__init__.py"
  changes+=("$(seconds "$work/change.log" "${playbook[@]}")")
  change_recap=$(recap "$work/change.log")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

{
  printf '# deploy benchmark, %s, %s cores, load %s at the start, inventory %s, %s rounds\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$load" "$inventory" "$rounds"
  printf '%-58s %5ss\n' "site.yml, cold deploy (images built, no stack)" "$cold"
  printf '%-58s %5ss  (%s)  %s\n' "site.yml, no-op re-run, median" "$(median "${noops[@]}")" \
    "${noops[*]}" "$noop_recap"
  printf '%-58s %5ss  (%s)  %s\n' "site.yml, one-line change to the API, median" \
    "$(median "${changes[@]}")" "${changes[*]}" "$change_recap"
} | tee -a benchmarks/results/deploy.txt
# The copy of app/ goes with $work: the next run of site.yml from the repository's own tree
# rolls the API back to the repository's code.
