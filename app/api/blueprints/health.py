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


def _check_postgres() -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 2000"))
        conn.execute(text("SELECT 1"))


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
    """Readiness: PostgreSQL answers ``SELECT 1`` and Redis answers ``PING``."""
    checks = {"postgres": _timed(_check_postgres), "redis": _timed(_check_redis)}
    down = [name for name, result in checks.items() if not result["ok"]]
    if down:
        data = {"status": "unavailable", "checks": checks}
        return envelope(
            data, f"{', '.join(down)} unavailable", 503, {"Retry-After": "5"}, "unavailable"
        )
    return envelope({"status": "ok", "checks": checks})
