#!/usr/bin/env bash
# A code change redeployed under load (issue 11): requests sent, failed, and the time from the
# start of the deploy until the new release answers every path. Runs on a deployed stack
# (`make deploy` first); each round builds the API and the frontend once.
# Usage: benchmarks/rolling.sh [inventory] [rounds]   (default inventories/local, 3)
# The API's per-client default rate limit is raised for these runs (bf_stack_app_env): the
# frontend reaches the API as one client, and the load would otherwise meet 429s (issue 12).
# Results: benchmarks/results/rolling.txt (appended).
set -euo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/local}
rounds=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limits='{"bf_stack_app_env": {"api": {"RATELIMIT_DEFAULT": "20000 per minute"}}}'
load=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(.venv/bin/python benchmarks/rolling.py "$inventory" "$work" "$rounds" -e "$limits")
echo "$out"
{
  printf '# rolling benchmark, %s, %s cores, load %s at the start, inventory %s, 5 req/s on each of 3 paths\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$load" "$inventory"
  echo "$out" | tail -2
} >>benchmarks/results/rolling.txt
