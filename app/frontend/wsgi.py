"""WSGI entry point: ``frontend.wsgi:app`` (uWSGI ``module``, ``flask --app``).

A configuration error stops start-up with one line naming the setting and exit status 1,
instead of a traceback.
"""

from __future__ import annotations

import sys
import threading

from frontend import ConfigError, create_app


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
    print(f"frontend: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None
join_helper_threads()
