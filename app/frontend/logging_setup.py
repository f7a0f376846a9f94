"""JSON logging with the request id on every line, like the API's logs."""

from __future__ import annotations

import logging
import sys

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

_HANDLER_NAME = "bf-frontend-json"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the request id; never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def configure_logging(level: str) -> None:
    """Send every log record to stdout as one JSON object per line.

    Safe to call more than once (tests build many apps): the handler is installed only once and
    the level is updated.

    Args:
        level: A logging level name such as ``INFO``.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    resolved = logging.getLevelName(level)
    root.setLevel(resolved if isinstance(resolved, int) else logging.INFO)
    # urllib3 logs every retry at WARNING, which is what we want; its DEBUG chatter is not.
    logging.getLogger("urllib3").setLevel(max(root.level, logging.INFO))
