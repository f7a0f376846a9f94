"""Liveness and readiness of the frontend, in the API's JSON envelope."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify

from .api_client import APIError, APIUnavailable
from .views import api

bp = Blueprint("health", __name__, url_prefix="/health")

# A probe must answer well within the orchestrator's timeout: no retries, short timeouts.
_PROBE_TIMEOUT = (1.0, 2.0)


def _envelope(data: Any, error: str | None, status: int) -> Any:
    response = jsonify({"success": error is None, "data": data, "error": error})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/live")
def live() -> Any:
    """The process answers, naming its release; touches neither the API nor Redis."""
    return _envelope({"status": "ok", "release": current_app.config["RELEASE"]}, None, 200)


def _check_api() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        api().request("GET", "/api/health/live", timeout=_PROBE_TIMEOUT, retry=False)
        ok = True
    except (APIUnavailable, APIError):
        ok = False
    return {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_redis() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        ok = bool(current_app.extensions["redis"].ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready", never a 500
        ok = False
    return {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.get("/ready")
def ready() -> Any:
    """Ready when the API's liveness answers and Redis answers PING; else 503 naming them."""
    checks = {"api": _check_api(), "redis": _check_redis()}
    down = [name for name, check in checks.items() if not check["ok"]]
    if down:
        error = " and ".join(down) + " unavailable"
        return _envelope({"status": "unavailable", "checks": checks}, error, 503)
    return _envelope({"status": "ok", "checks": checks}, None, 200)
