"""WSGI entry point: ``frontend.wsgi:app`` (uWSGI ``module``, ``flask --app``).

A configuration error stops start-up with one line naming the setting and exit status 1,
instead of a traceback.
"""

from __future__ import annotations

import sys

from frontend import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:
    print(f"frontend: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None
