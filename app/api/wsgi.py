"""WSGI entry point: ``api.wsgi:app`` for uWSGI and ``flask --app api.wsgi``."""

from __future__ import annotations

import sys

from api import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:
    # One clear line and a non-zero exit, not a traceback, when the deployment is misconfigured.
    print(f"api: configuration error: {exc}", file=sys.stderr)  # noqa: T201
    sys.exit(1)
