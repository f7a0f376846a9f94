#!/usr/bin/env bash
# Benchmark of the images playbook on this host. It builds under its own namespace, build folder
# and wheel cache, so it neither reuses nor deletes the project's cached bf/* images:
#   1. cold: every image from scratch (debootstrap, wheel downloads, all builds);
#   2. warm: the same run again, which must report changed=0;
#   3. the size of every image.
# The benchmark's images are removed at the end (KEEP=1 keeps them).
# Results are printed and written to benchmarks/results/images.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

ns=${BENCH_NAMESPACE:-bfbench}
work=$(mktemp -d)
log="$work/play.log"
cleanup() {
	if [ "${KEEP:-0}" != 1 ]; then
		mapfile -t imgs < <(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$ns/" || true)
		[ "${#imgs[@]}" -eq 0 ] || docker image rm "${imgs[@]}" >/dev/null || true
	fi
	rm -rf "$work" "/var/lib/backend-framework/$ns-build"
}
trap cleanup EXIT

export ANSIBLE_CONFIG="$PWD/ansible.cfg"
play=(.venv/bin/ansible-playbook playbooks/images.yml -i localhost,
	-e ansible_connection=local -e "ansible_python_interpreter=$PWD/.venv/bin/python"
	-e "bf_images_namespace=$ns" -e "bf_images_build_dir=/var/lib/backend-framework/$ns-build"
	-e "bf_images_cache_dir=$work/cache")

run() { # label
	local start end changed
	start=$(date +%s%N)
	"${play[@]}" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
	end=$(date +%s%N)
	changed=$(grep -Eo 'changed=[0-9]+' "$log" | tail -1)
	printf '%-5s %6d s  %s\n' "$1" $(((end - start) / 1000000000)) "$changed"
	if [ "$1" = warm ] && [ "$changed" != changed=0 ]; then
		echo "# changed in the warm run:"
		grep -B4 -E '^changed:' "$log" | grep -E '^TASK|^changed:' || true
	fi
}

out=benchmarks/results/images.txt
mkdir -p "$(dirname "$out")"
{
	echo "# images benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, storage driver" \
		"$(docker info --format '{{.Driver}}')"
	mapfile -t old < <(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$ns/" || true)
	[ "${#old[@]}" -eq 0 ] || docker image rm "${old[@]}" >/dev/null
	run cold
	run warm
	echo "# image sizes"
	docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$ns/" | sort
} | tee "$out"
