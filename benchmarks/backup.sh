#!/usr/bin/env bash
# Backup and restore speed of playbooks/backup.yml and restore.yml against the raw tools, on a
# generated database of about BENCH_ROWS * 200 bytes (default ~1 GB), in a throwaway Compose
# project (bf-backup-bench) that is removed afterwards. Not part of `make test`:
#   benchmarks/backup.sh            (as root, with the bf/postgres image built)
#   BENCH_REPEAT=5 benchmarks/backup.sh     (more alternating rounds on a busy machine)
# The reference is the issue's: raw `pg_dump -Fc` at its default gzip level 6. Raw at the role's
# level (bf_backup_compress_level) is printed too, and the PostgreSQL container's CPU seconds of
# each (load-independent, unlike wall time on a shared 2-core host), with the load average.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROJECT=bf-backup-bench
ROWS="${BENCH_ROWS:-5000000}"
DIR="$(mktemp -d /tmp/bf-backup-bench-XXXXXX)"
IMAGE="$(docker images bf/postgres --format '{{.Repository}}:{{.Tag}}' | head -n1)"
[ -n "$IMAGE" ] || { echo "no bf/postgres image: build it with make images" >&2; exit 1; }
export ANSIBLE_CONFIG="$ROOT/ansible.cfg" ANSIBLE_FACT_CACHING=memory ANSIBLE_NOCOLOR=1

compose() { docker compose -p "$PROJECT" --project-directory "$DIR" -f "$DIR/compose.yml" "$@"; }
psql_() { compose exec -T -u postgres postgres psql -X -q -A -t -v ON_ERROR_STOP=1 -U backend "$@"; }
cleanup() {
	compose down --volumes --timeout 5 >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT
# Command substitutions do not inherit errexit: a failing command must fail the caller itself.
seconds() { local s=$EPOCHREALTIME; "$@" >/dev/null || return; echo "$EPOCHREALTIME - $s" | bc; }

mkdir -p "$DIR/secrets"
head -c 24 /dev/urandom | base64 >"$DIR/secrets/postgres_password"
chmod 0444 "$DIR/secrets/postgres_password"
cat >"$DIR/compose.yml" <<EOF
name: $PROJECT
services:
  postgres:
    image: $IMAGE
    environment: {POSTGRES_DB: backend_db, POSTGRES_USER: backend,
                  POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password}
    secrets: [postgres_password]
    volumes: ["postgres_data:/var/lib/postgresql/data"]
    network_mode: none
    healthcheck: {test: [CMD, pg_isready, -q, -h, 127.0.0.1], interval: 2s, retries: 60}
volumes: {postgres_data: {}}
secrets: {postgres_password: {file: ./secrets/postgres_password}}
EOF
cat >"$DIR/inventory.yml" <<EOF
bf_db_primary:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
      bf_stack_name: $PROJECT
      bf_stack_dir: $DIR
      bf_environment: local
      bf_backup_scheduler: none
      # The comparison is dump + checksums + manifest + retention; full verification is
      # measured separately (verify-backup.yml does the same work).
      bf_backup_verify: none
      bf_backup_keep_last: 20
      bf_backup_selfcheck_nginx_url: ""
      bf_backup_log_file: $DIR/bf-backup.log
      bf_backup_migrations_dir: ""
EOF

compose up -d --wait >/dev/null
echo "Generating $ROWS rows ..."
psql_ -d backend_db <<SQL
CREATE TABLE bench (id bigint PRIMARY KEY, payload text, amount numeric(12, 2), at timestamptz);
INSERT INTO bench SELECT i, repeat(md5(i::text), 5), i / 100.0, now() - i * interval '1 second'
  FROM generate_series(1, $ROWS) i;
CREATE INDEX bench_at ON bench (at);
ANALYZE bench;
SQL
size="$(psql_ -d backend_db -c "SELECT pg_size_pretty(pg_database_size('backend_db'))")"
echo "Database size: $size"

ctr="$(compose ps -q postgres)"
# Other work on the machine makes single runs noisy: raw and ours alternate, best of $REPEAT.
REPEAT="${BENCH_REPEAT:-2}"
best() { printf '%s\n' "$@" | sort -n | head -n1; }
raw=() script=() play=()
"$ROOT/.venv/bin/ansible-playbook" "$ROOT/playbooks/backup.yml" -i "$DIR/inventory.yml" >/dev/null
level="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["compress_level"])' \
	"$DIR/backup/config.json")"
# CPU nanoseconds used so far by the PostgreSQL container (pg_dump, its backend and the checksum
# session all run there), from cgroup v1 or v2; empty when neither is found.
cg_ns() {
	local f
	for f in /sys/fs/cgroup/cpuacct/docker/"$ctr"/cpuacct.usage \
		/sys/fs/cgroup/system.slice/docker-"$ctr".scope/cpu.stat; do
		case "$f" in
		*.usage) [ -r "$f" ] && { cat "$f"; return; } ;;
		*) [ -r "$f" ] && { awk '$1 == "usage_usec" {print $2 * 1000}' "$f"; return; } ;;
		esac
	done
	return 0
}
# Prints the wall seconds of a command and the container's CPU seconds meanwhile (n/a if unknown).
measure() {
	local c0 c1 s=$EPOCHREALTIME
	c0="$(cg_ns)"
	"$@" >/dev/null || return
	c1="$(cg_ns)"
	echo "$(echo "$EPOCHREALTIME - $s" | bc) $([ -n "$c0" ] && echo "scale=1; ($c1 - $c0) / 1000000000" | bc || echo n/a)"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
loads=("$(load)")
same=() raw_cpu=() same_cpu=() script_cpu=()
for _ in $(seq "$REPEAT"); do
	out="$(measure bash -c "docker exec -u postgres $ctr pg_dump -Fc -U backend -d backend_db > /dev/null")"
	read -r w c <<<"$out"
	raw+=("$w") raw_cpu+=("$c")
	out="$(measure bash -c "docker exec -u postgres $ctr pg_dump -Fc -Z$level -U backend -d backend_db > /dev/null")"
	read -r w c <<<"$out"
	same+=("$w") same_cpu+=("$c")
	out="$(measure python3 "$DIR/backup/bf_backup.py" backup --config "$DIR/backup/config.json")"
	read -r w c <<<"$out"
	script+=("$w") script_cpu+=("$c")
	play+=("$(seconds "$ROOT/.venv/bin/ansible-playbook" "$ROOT/playbooks/backup.yml" -i "$DIR/inventory.yml")")
	loads+=("$(load)")
done
raw_dump="$(best "${raw[@]}")" same_dump="$(best "${same[@]}")"
script_backup="$(best "${script[@]}")" play_backup="$(best "${play[@]}")"
# What Ansible adds around the script: the same playbook in check mode skips only the dump.
overhead=$(seconds "$ROOT/.venv/bin/ansible-playbook" "$ROOT/playbooks/backup.yml" -i "$DIR/inventory.yml" --check)
name="$(ls "$DIR/backups" | grep -v '^\.' | tail -n1)"
dump_size="$(stat -c %s "$DIR/backups/$name/db.dump")"
sizes=""
for z in 0 1 3 6; do
	sizes+=" Z$z=$(($(docker exec -u postgres "$ctr" pg_dump -Fc -Z$z -U backend -d backend_db | wc -c) / 1024 / 1024))"
done
verify=$(seconds "$ROOT/.venv/bin/ansible-playbook" "$ROOT/playbooks/verify-backup.yml" -i "$DIR/inventory.yml")

docker cp "$DIR/backups/$name/db.dump" "$ctr:/tmp/bench.dump"
docker exec "$ctr" chmod 0644 /tmp/bench.dump
psql_ -d postgres -c "CREATE DATABASE raw_restore"
raw_restore=$(seconds docker exec -u postgres "$ctr" pg_restore -j 2 -U backend -d raw_restore /tmp/bench.dump)
psql_ -d postgres -c "DROP DATABASE raw_restore"
docker exec "$ctr" rm -f /tmp/bench.dump
play_restore=$(seconds "$ROOT/.venv/bin/ansible-playbook" "$ROOT/playbooks/restore.yml" -i "$DIR/inventory.yml" -e restore_confirm=yes)

pct() { echo "scale=0; 100 * $1 / $2" | bc; }
cat <<EOF

Database $size ($ROWS rows), dump $((dump_size / 1024 / 1024)) MiB at gzip level $level, $(nproc) cores
  raw pg_dump -Fc > /dev/null        ${raw_dump}s   (best of $REPEAT; all: ${raw[*]}; container CPU s: ${raw_cpu[*]})
  raw pg_dump -Fc -Z$level > /dev/null     ${same_dump}s   (all: ${same[*]}; container CPU s: ${same_cpu[*]})
  bf_backup.py backup (cron path)    ${script_backup}s   ($(pct "$raw_dump" "$script_backup") % of raw speed; all: ${script[*]}; container CPU s: ${script_cpu[*]})
  playbooks/backup.yml               ${play_backup}s   ($(pct "$raw_dump" "$play_backup") % of raw speed, $(pct "$same_dump" "$play_backup") % of raw at -Z$level; all: ${play[*]})
  backup.yml --check (Ansible only)  ${overhead}s
  playbooks/verify-backup.yml        ${verify}s
  raw pg_restore -j 2                ${raw_restore}s
  playbooks/restore.yml              ${play_restore}s   (raw/playbook = $(pct "$raw_restore" "$play_restore") %)
  dump MiB per gzip level           ${sizes# }
  load average (1/5/15 min) before and after each round: ${loads[*]/%/;}
EOF
