"""flask-smorest adapted to the envelope: responses and documented errors use it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api, Blueprint

_ENVELOPES: dict[tuple[type, bool], type[ma.Schema]] = {}


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

    success = ma.fields.Boolean(metadata={"example": False})
    data = ma.fields.Raw(allow_none=True)
    error = ma.fields.String(metadata={"example": "Validation failed: price"})


class EnvelopeBlueprint(Blueprint):
    """A blueprint whose ``@response`` output is wrapped in the success envelope."""

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
                    "success": ma.fields.Boolean(),
                    "data": ma.fields.Nested(schema.__class__, many=many),
                    "error": ma.fields.String(allow_none=True),
                },
            )
        return _ENVELOPES[key]


class EnvelopeApi(Api):
    """flask-smorest ``Api`` documenting errors in the envelope.

    Its own HTTPException handler is replaced by :func:`api.errors.register_error_handlers`.
    """

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def __init__(self, app: Any = None) -> None:
        super().__init__(
            app,
            spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)},
        )
