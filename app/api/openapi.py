"""flask-smorest adapted to the envelope: responses, documented errors and argument parsing.

The document lists, per operation, every status the operation can answer (no catch-all
``default``), so a client, and schemathesis, can rely on it: 400 for invalid arguments (not
webargs' 422), 401/403/404/409 where the route raises them, and the cross-cutting ones each
blueprint declares: 413 for bodies, 429 where a rate limit applies, 503/504 where PostgreSQL is
used.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api, Blueprint

from api.errors import ERROR_CODES
from api.fields import Money, openapi_properties
from api.parsing import EnvelopeParser

_ENVELOPES: dict[tuple[type, bool], type[ma.Schema]] = {}
BEARER = [{"bearerAuth": []}]
# Anonymous callers are welcome; a token, if sent, must be valid (admins see more).
OPTIONAL_BEARER = [{}, {"bearerAuth": []}]
SERVERS = [{"url": "/", "description": "This host (the API lives under /api)"}]


def schema_name(schema: ma.Schema | type[ma.Schema]) -> str:
    """Name a schema in the OpenAPI components (partial variants get their own name).

    Args:
        schema: A schema class or instance.

    Returns:
        The component name.
    """
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    if not isinstance(schema, type) and schema.partial:
        name += "Partial"
    return name


class ErrorEnvelopeSchema(ma.Schema):
    """The envelope of an error response (documentation only)."""

    success = ma.fields.Boolean(required=True, metadata={"enum": [False]})
    data = ma.fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "null, or details: fields, request_id, checks"},
    )
    error = ma.fields.String(required=True, metadata={"example": "Validation failed: price"})
    code = ma.fields.String(
        required=True,
        metadata={"enum": list(ERROR_CODES), "description": "Machine-readable reason"},
    )
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "Per-field messages (validation errors only)"},
    )


class EnvelopeBlueprint(Blueprint):
    """A blueprint whose ``@response`` output is wrapped in the success envelope.

    Args:
        *args: Passed to :class:`flask_smorest.Blueprint`.
        rate_limited: The default rate limit applies to its routes (documents 429).
        database: Its routes query PostgreSQL (documents 503 and 504).
        **kwargs: Passed to :class:`flask_smorest.Blueprint`.
    """

    ARGUMENTS_PARSER = EnvelopeParser()

    def __init__(
        self, *args: Any, rate_limited: bool = True, database: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rate_limited = rate_limited
        self.database = database
        self._prepare_doc_cbks.append(self._prepare_common_errors_doc)

    @staticmethod
    def _prepare_response_content(data: Any) -> dict[str, Any]:
        return {"success": True, "data": data, "error": None}

    @staticmethod
    def _make_doc_response_schema(schema: ma.Schema | None) -> type[ma.Schema] | None:
        if schema is None:
            return None
        many = bool(getattr(schema, "many", False))
        key = (schema.__class__, many)
        if key not in _ENVELOPES:
            suffix = "List" if many else ""
            _ENVELOPES[key] = type(
                f"Envelope{schema_name(schema.__class__)}{suffix}Schema",
                (ma.Schema,),
                {
                    "success": ma.fields.Boolean(required=True, metadata={"enum": [True]}),
                    "data": ma.fields.Nested(schema.__class__, many=many, required=True),
                    "error": ma.fields.String(
                        required=True, allow_none=True, metadata={"enum": [None]}
                    ),
                },
            )
        return _ENVELOPES[key]

    def error(self, status: int, description: str) -> Callable[[Any], Any]:
        """Document an error response of the decorated route, in the error envelope.

        Args:
            status: The HTTP status.
            description: When the route answers it.

        Returns:
            The decorator.
        """
        return self.alt_response(
            status,
            response={
                "description": description,
                "schema": ErrorEnvelopeSchema,
                "content_type": None,
            },
        )

    def _prepare_common_errors_doc(
        self, doc: dict[str, Any], doc_info: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any]:
        responses = doc.setdefault("responses", {})
        statuses: list[int] = []
        if "requestBody" in doc:
            # A body is read: it may be too large, or not JSON at all.
            statuses += [400, 413]
        if self.rate_limited:
            statuses.append(429)
        if self.database:
            statuses += [503, 504]
        security = doc_info.get("manual_doc", {}).get("security")
        if security:
            statuses.append(401)
        for status in statuses:
            if status not in responses and str(status) not in responses:
                # A reference to flask-smorest's per-status response, in ErrorEnvelopeSchema.
                responses[status] = http.HTTPStatus(status).name
        return doc


class EnvelopeApi(Api):
    """flask-smorest ``Api`` documenting errors in the envelope.

    Its own HTTPException handler is replaced by :func:`api.errors.register_error_handlers`.
    """

    ERROR_SCHEMA = ErrorEnvelopeSchema
    # Every status is listed per operation; a catch-all would hide an undocumented one.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Any = None) -> None:
        super().__init__(
            app,
            spec_kwargs={
                "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name),
                "servers": SERVERS,
            },
        )
        # The strict fields describe their own constraints (patterns, integer-or-string money).
        self.register_field(Money, None, None)
        self.ma_plugin.converter.add_attribute_function(openapi_properties)
