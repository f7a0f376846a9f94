"""A bare Flask app answering the API's JSON envelope: the floor of benchmarks/requests.sh.

Deployed as the ``floor`` service (route ``/floor/``) in the API's image recipe, under the
API's uWSGI settings, behind the same edge Nginx and TLS: what the request path would cost with
no extensions, no database and no Redis. Same body as benchmarks/app_floor.py.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/floor/health/live")
@app.get("/floor/health/ready")
def live():  # noqa: ANN201 - the smallest possible view
    """The same body as the API's liveness route (and as benchmarks/app_floor.py)."""
    return jsonify({"success": True, "data": {"status": "ok"}, "error": None})
