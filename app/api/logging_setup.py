"""JSON logs on stdout, each line carrying the request id, plus the request id middleware."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# A client-supplied id is echoed only if it is short and harmless in a log line or header.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HANDLER_MARK = "_api_json_handler"

access_log = logging.getLogger("api.access")


class _StdoutHandler(logging.StreamHandler):
    """A stream handler that always writes to the current ``sys.stdout``."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102 - property of logging.StreamHandler
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # noqa: D102
        pass


class _RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str) -> None:
    """Send every log record to stdout as one JSON object per line.

    Idempotent: calling it again (a second app in the same process) replaces our handler.

    Args:
        level: Root log level name.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = _StdoutHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root.addHandler(handler)
    root.setLevel(level)


def init_request_id(app: Flask) -> None:
    """Give each request an id (from ``X-Request-ID`` or new), echo it and log the request.

    Args:
        app: The application.
    """

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    log_requests = app.config.get("ACCESS_LOG", True)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        status = response.status_code
        # ACCESS_LOG=false when Nginx logs every request already (the deployed stack). A 5xx
        # is logged all the same: the frontend's calls to the API never pass Nginx.
        if not log_requests and status < 500:
            return response
        started = g.get("request_started")
        access_log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "remote_addr": request.remote_addr,
            },
        )
        return response
