"""Liveness and readiness probes (exempt from rate limits)."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app
from sqlalchemy import text

from api.errors import envelope
from api.extensions import db, get_redis
from api.openapi import EnvelopeBlueprint
from api.schemas import HealthSchema, HealthUnavailableSchema

# Exempt from rate limits; ready reports a database outage itself (200 or 503, never 504).
blp = EnvelopeBlueprint(
    "health",
    __name__,
    description="Liveness and readiness probes",
    rate_limited=False,
    database=False,
)


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", never a 500
        result: dict[str, Any] = {"ok": False, "error": type(exc).__name__}
    else:
        result = {"ok": True}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


# On the primary: each standby's state and how far its replay is behind, in bytes of WAL (the
# truth: replay_lag is NULL on an idle primary) and in time. No client address: this is public.
_REPLICATION = text(
    """
    SELECT pg_is_in_recovery() AS in_recovery,
           COALESCE((SELECT json_agg(json_build_object(
                       'name', application_name,
                       'state', state,
                       'replay_lag_bytes', CASE WHEN pg_is_in_recovery() THEN NULL
                            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint END,
                       'replay_lag_ms', (extract(epoch FROM replay_lag) * 1000)::bigint)
                     ORDER BY application_name)
                     FROM pg_stat_replication), '[]'::json) AS standbys
    """
)


def _replication_state(conn: Any, expected: int) -> dict[str, Any]:
    row = conn.execute(_REPLICATION).one()
    standbys = list(row.standbys)
    streaming = sum(1 for s in standbys if s["state"] == "streaming")
    role = "standby" if row.in_recovery else "primary"
    return {
        "role": role,
        "expected": expected,
        "standbys": standbys,
        "ok": role == "primary" and streaming >= expected,
    }


def _check_postgres(replication: dict[str, Any] | None = None) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 2000"))
        conn.execute(text("SELECT 1"))
        if replication is not None:
            replication.update(_replication_state(conn, replication["expected"]))


def _check_redis() -> None:
    get_redis().ping()


@blp.route("/live")
@blp.response(200, HealthSchema)
def live() -> dict[str, str]:
    """Liveness: the process answers, naming its release; touches no dependency."""
    return {"status": "ok", "release": current_app.config["RELEASE"]}


@blp.route("/ready")
@blp.response(200, HealthSchema)
@blp.alt_response(
    503,
    response={
        "description": "A dependency is down (the error names it)",
        "schema": HealthUnavailableSchema,
        "content_type": None,
    },
)
def ready() -> tuple[Response, int, Any]:
    """Readiness: PostgreSQL answers ``SELECT 1`` and Redis answers ``PING``.

    With a replica deployed (``POSTGRES_REPLICAS_EXPECTED``), ``replication`` reports it beside
    the checks: a replica behind or gone never makes the API unready, it only shows.
    """
    expected = current_app.config["POSTGRES_REPLICAS_EXPECTED"]
    replication: dict[str, Any] | None = (
        {"expected": expected, "ok": False} if expected > 0 else None
    )
    checks = {
        "postgres": _timed(lambda: _check_postgres(replication)),
        "redis": _timed(_check_redis),
    }
    down = [name for name, result in checks.items() if not result["ok"]]
    data: dict[str, Any] = {"status": "unavailable" if down else "ok", "checks": checks}
    if replication is not None:
        data["replication"] = replication
    if down:
        return envelope(
            data, f"{', '.join(down)} unavailable", 503, {"Retry-After": "5"}, "unavailable"
        )
    return envelope(data)
