"""WSGI entry point: ``api.wsgi:app`` for uWSGI and ``flask --app api.wsgi``."""

from __future__ import annotations

import sys
import threading

from api import ConfigError, create_app


def join_helper_threads(timeout: float = 5.0) -> None:
    """Wait for every thread but the main one to end.

    uWSGI forks its workers from this process as soon as the import returns, without Python's
    at-fork handlers: a thread alive at that moment may hold the GIL, and every worker then
    waits for it forever (the rate limiter's in-memory fallback starts a 10 ms expiry timer).
    """
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout)


try:
    app = create_app()
except ConfigError as exc:
    # One clear line and a non-zero exit, not a traceback, when the deployment is misconfigured.
    print(f"api: configuration error: {exc}", file=sys.stderr)  # noqa: T201
    sys.exit(1)
join_helper_threads()
