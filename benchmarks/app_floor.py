"""The floor of benchmarks/app_requests.sh: a bare Flask app answering the API's envelope.

Served under the API's uWSGI settings, it is what the request path would cost with no
extensions, no database and no Redis; every route is measured as a ratio to it.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/api/health/live")
def live():  # noqa: ANN201 - the smallest possible view
    """The same body as the API's liveness route."""
    return jsonify({"success": True, "data": {"status": "ok"}, "error": None})
