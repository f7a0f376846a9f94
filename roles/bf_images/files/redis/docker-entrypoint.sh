#!/usr/bin/env bash
# Entrypoint of the Redis image: renders /run/redis/redis.conf (with requirepass from
# REDIS_PASSWORD_FILE) and starts redis-server on it; extra arguments are passed on.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ]; then
	shift
	conf_dir="${REDIS_RUNTIME_DIR:-/run/redis}"
	conf="$conf_dir/redis.conf"
	umask 077
	mkdir -p "$conf_dir"
	{
		echo 'bind * -::*'
		echo 'port 6379'
		echo 'protected-mode yes'
		echo 'daemonize no'
		echo 'dir /data'
		# Sessions and rate-limit counters survive a restart.
		echo 'appendonly yes'
		echo 'logfile ""'
	} >"$conf"
	if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
		if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
			echo >&2 "error: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is not readable by uid $(id -u)"
			exit 1
		fi
		password="$(<"$REDIS_PASSWORD_FILE")"
		if [ -z "$password" ]; then
			echo >&2 "error: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is empty"
			exit 1
		fi
		password="${password//\\/\\\\}"
		password="${password//\"/\\\"}"
		printf 'requirepass "%s"\n' "$password" >>"$conf"
		unset password
	else
		echo >&2 'warning: REDIS_PASSWORD_FILE is not set: no password; protected mode refuses' \
			'connections from other hosts'
	fi
	exec redis-server "$conf" "$@"
fi

exec "$@"
