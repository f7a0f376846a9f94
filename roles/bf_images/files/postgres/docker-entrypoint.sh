#!/usr/bin/env bash
# Entrypoint of the PostgreSQL image, compatible with the official image's interface.
# The password is read from POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) into a shell variable
# and handed to initdb through a file descriptor: it never reaches argv or the server's env.
set -Eeuo pipefail

# Read VAR, or the file named by VAR_FILE, into the shell variable VAR (not exported).
file_var() {
	local var="$1" file_var="${1}_FILE" default="${2:-}"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set; set only one"
		exit 1
	fi
	local value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		if [ ! -r "${!file_var}" ]; then
			echo >&2 "error: $file_var=${!file_var} is not readable by uid $(id -u)"
			exit 1
		fi
		value="$(<"${!file_var}")"
	fi
	export -n "$var" 2>/dev/null || true
	unset "$file_var"
	printf -v "$var" '%s' "$value"
}

psql_init() {
	psql -X -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

init_database() {
	file_var POSTGRES_PASSWORD
	file_var POSTGRES_USER postgres
	file_var POSTGRES_DB "$POSTGRES_USER"
	file_var POSTGRES_INITDB_ARGS
	if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
		echo >&2 'error: the database is uninitialised and no superuser password is set:'
		echo >&2 '       set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD).'
		exit 1
	fi
	local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS -D "$PGDATA"
	printf '\n# Any non-local client authenticates with its password.\nhost all all all %s\n' \
		"$auth" >>"$PGDATA/pg_hba.conf"

	# Unix socket only while initialising, so the health check (TCP) stays unhealthy.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db" ;
		SQL
	fi
	local f
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					echo "running $f"
					"$f"
				else
					echo "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)
				echo "running $f"
				psql_init --dbname "$POSTGRES_DB" -f "$f"
				;;
			*.sql.gz)
				echo "running $f"
				gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB"
				;;
			*) echo "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset POSTGRES_PASSWORD
	echo 'PostgreSQL initialisation done; starting the server.'
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 0700 "$PGDATA"
	install -d -o postgres -g postgres -m 3777 /var/run/postgresql
	# The restore's staging volume (a dump pg_restore --jobs can seek in): a new volume is
	# root's on some drivers. Without a volume it is the image's own (read-only) directory.
	if [ -d "${BF_SCRATCH_DIR:-}" ] && [ "$(stat -c %U "$BF_SCRATCH_DIR")" != postgres ]; then
		chown postgres:postgres "$BF_SCRATCH_DIR"
		chmod 0700 "$BF_SCRATCH_DIR"
	fi
	# Keep the supplementary groups the container was started with (Compose's group_add: the
	# group that may read /run/secrets), minus root's own group 0; --init-groups would drop them.
	groups="$(id -G | tr ' ' '\n' | grep -vx 0 | paste -sd, - || true)"
	if [ -n "$groups" ]; then
		set -- setpriv --reuid=postgres --regid=postgres --groups="$groups" "$@"
	else
		set -- setpriv --reuid=postgres --regid=postgres --init-groups "$@"
	fi
	exec "${@:1:4}" env HOME=/var/lib/postgresql "$BASH_SOURCE" "${@:5}"
fi

# The replication role may connect from the replica's network (scram, like every other
# client); added at every start, before the server reads pg_hba.conf, so that an older cluster
# gets it too, and a standby's copy keeps it for the day it is promoted.
allow_replication() {
	local line="host replication ${BF_REPLICATION_USER} all scram-sha-256"
	grep -qxF "$line" "$PGDATA/pg_hba.conf" || printf '%s\n' "$line" >>"$PGDATA/pg_hba.conf"
}

# A data folder that must never serve: a failover fenced it (playbooks/failover.yml).
refuse_fenced() {
	if [ -f "$PGDATA/bf.fenced" ]; then
		echo >&2 "error: this database was fenced and must not start: $(cat "$PGDATA/bf.fenced")"
		echo >&2 '       rebuild it as the replica (docs/OPERATIONS.md, "Rebuild the replica").'
		exit 78
	fi
}

# The hot standby (BF_PG_ROLE=replica): its password file for primary_conninfo's passfile, and,
# on an empty volume, a copy of the primary by pg_basebackup through the replication slot. It
# never empties a folder it did not fill itself: a marker on the scratch volume (pg_basebackup
# needs an empty data folder) says a copy was cut short and may be started again.
prepare_replica() {
	file_var BF_REPLICATION_PASSWORD
	local user="${BF_REPLICATION_USER:?BF_REPLICATION_USER is not set}"
	local slot="${BF_REPLICATION_SLOT:?BF_REPLICATION_SLOT is not set}"
	local primary="${BF_PG_PRIMARY_HOST:-postgres}"
	local escaped="${BF_REPLICATION_PASSWORD//\\/\\\\}"
	escaped="${escaped//:/\\:}"
	(umask 077 && printf '*:*:*:%s:%s\n' "$user" "$escaped" >/tmp/bf-replication.pgpass)
	unset BF_REPLICATION_PASSWORD
	export PGPASSFILE=/tmp/bf-replication.pgpass
	local marker="${BF_SCRATCH_DIR:?BF_SCRATCH_DIR is not set}/bf-seed.incomplete"
	if [ -f "$marker" ]; then
		echo 'replica: an earlier copy of the primary was cut short; starting it again'
		find "$PGDATA" -mindepth 1 -delete
	fi
	if [ -s "$PGDATA/PG_VERSION" ]; then
		if [ ! -f "$PGDATA/standby.signal" ]; then
			echo >&2 'error: this volume holds a database that is not a standby (a former primary,'
			echo >&2 '       or a promoted replica): it is never overwritten here. Rebuild the replica'
			echo >&2 '       (docs/OPERATIONS.md, "Rebuild the replica").'
			exit 78
		fi
		return 0
	fi
	if [ -n "$(find "$PGDATA" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
		echo >&2 "error: $PGDATA is not empty and holds no database: it is never overwritten here."
		exit 78
	fi
	touch "$marker"
	local waited=0
	until pg_isready --quiet --host="$primary" --port=5432; do
		if [ "$waited" -ge "${BF_REPLICA_WAIT_SECONDS:-300}" ]; then
			echo >&2 "error: the primary ($primary) did not answer for ${waited}s"
			exit 1
		fi
		sleep 2
		waited=$((waited + 2))
	done
	echo "replica: copying the primary ($primary) through the slot $slot"
	pg_basebackup --host="$primary" --port=5432 --username="$user" --no-password \
		--pgdata="$PGDATA" --wal-method=stream --slot="$slot" --checkpoint=fast
	touch "$PGDATA/standby.signal"
	rm -f "$marker"
	echo 'replica: copy done; starting the standby'
}

if [ "$1" = 'postgres' ]; then
	refuse_fenced
	if [ "${BF_PG_ROLE:-}" = 'replica' ]; then
		prepare_replica
	elif [ ! -s "$PGDATA/PG_VERSION" ]; then
		init_database
	fi
	if [ "${BF_PG_ROLE:-}" = 'primary' ]; then
		if [ -f "$PGDATA/standby.signal" ]; then
			echo >&2 'error: this volume holds a standby, not a primary: promote it with'
			echo >&2 '       playbooks/failover.yml, or move it back to bf_db_replica.'
			exit 78
		fi
		if [ -n "${BF_REPLICATION_USER:-}" ]; then
			allow_replication
		fi
	fi
	unset BF_REPLICATION_PASSWORD_FILE
	unset POSTGRES_PASSWORD_FILE
	# The stack's postgres service sets the pgBackRest TLS server's address; a throwaway server
	# (verify, restore) does not, and runs PostgreSQL alone.
	if [ -n "${PGBACKREST_TLS_SERVER_ADDRESS:-}" ]; then
		bf-pgbackrest beside
	fi
fi

exec "$@"
