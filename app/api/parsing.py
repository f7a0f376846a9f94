"""Request parsing: strict, bounded JSON and 400 (not webargs' 422) for invalid arguments.

Python's ``json`` module raises RecursionError on deeply nested input, ValueError on integers
of more than 4300 digits and accepts ``NaN``/``Infinity``: each would be a 500 or a value no
schema expects. :func:`parse_json` refuses all of them as invalid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import flask
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

# Deeper than any body this API takes ({"items": [{...}]} is 3), shallow enough to be harmless.
MAX_JSON_DEPTH = 32
# A JSON string (escapes included), matched without backtracking.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class RefusedJSON(json.JSONDecodeError):
    """Syntactically JSON, perhaps, but refused: too deep, a huge number, NaN or Infinity."""


def json_depth(raw: bytes) -> int:
    """Return the deepest nesting of arrays and objects in a JSON document.

    Args:
        raw: The document.

    Returns:
        The depth (0 for a scalar); brackets inside strings do not count.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """Parse a request body as strict RFC 8259 JSON.

    Args:
        raw: The body.

    Returns:
        The parsed document.

    Raises:
        json.JSONDecodeError: Not JSON (an empty body has ``doc == ""``, which webargs reads as
            "no body").
        RefusedJSON: Nested deeper than :data:`MAX_JSON_DEPTH`, a number Python will not
            convert, ``NaN`` or ``Infinity``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", "?", exc.start) from None
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise RefusedJSON(f"nested deeper than {MAX_JSON_DEPTH} levels", text, 0)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise RefusedJSON(str(exc).split(":")[0], text, 0) from None


class EnvelopeParser(FlaskParser):
    """webargs' Flask parser with strict JSON and the 400 status of the API contract."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return parse_json(req.get_data(cache=True))

    def _handle_invalid_json_error(
        self, error: json.JSONDecodeError | UnicodeDecodeError, req: flask.Request, *args, **kw
    ) -> NoReturn:
        message = "Invalid JSON body."
        if isinstance(error, RefusedJSON):
            message = f"Invalid JSON body: {error.msg}."
        abort(400, exc=error, messages={"json": [message]})
