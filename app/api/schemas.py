"""Marshmallow schemas: request validation and response serialisation (and the OpenAPI doc)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.fields import Money, StrictBoolean, StrictInteger, Text

SLUG = validate.Regexp(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be lowercase letters, digits and single hyphens."
)
SORT_CHOICES = ("name", "-name", "price", "-price", "created_at", "-created_at")
# PostgreSQL's integer: an id or count beyond it would be refused by the database.
MAX_INT = 2**31 - 1
ID_RANGE = validate.Range(min=1, max=MAX_INT)


class StrictSchema(ma.Schema):
    """Rejects unknown fields, so a typo is a 400 naming it rather than silently ignored."""

    class Meta:
        """Marshmallow options."""

        unknown = ma.RAISE


class TimestampedSchema(StrictSchema):
    """Read-only ``id`` and timestamps."""

    id = ma.fields.Integer(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class UserSchema(TimestampedSchema):
    """A user as returned by the API."""

    email = ma.fields.Email(dump_only=True)
    name = ma.fields.String(dump_only=True)
    is_admin = ma.fields.Boolean(dump_only=True)


class RegisterSchema(StrictSchema):
    """Body of ``POST /api/auth/register``."""

    email = ma.fields.Email(required=True, validate=validate.Length(max=255))
    password = Text(required=True, load_only=True, min_length=8, max_length=128)
    name = Text(required=True, min_length=1, max_length=120, blank=False, strip=True)


class LoginSchema(StrictSchema):
    """Body of ``POST /api/auth/login``."""

    email = Text(required=True, min_length=1, max_length=255)
    password = Text(required=True, load_only=True, min_length=1, max_length=128)


class RegisterResultSchema(ma.Schema):
    """What a registration answers, whether or not the email already had an account."""

    email = ma.fields.String(metadata={"description": "The address, as it will be matched"})


class LoginResultSchema(ma.Schema):
    """Result of a successful login."""

    access_token = ma.fields.String()
    user = ma.fields.Nested(UserSchema)


class CategorySchema(TimestampedSchema):
    """A category (request body and response)."""

    name = Text(required=True, min_length=1, max_length=120, blank=False, strip=True)
    slug = ma.fields.String(validate=[validate.Length(min=1, max=140), SLUG])
    description = Text(allow_none=True, max_length=10000, multiline=True)


class ProductSchema(TimestampedSchema):
    """A product (creation body and response); ``price`` is a string with two decimals.

    ``version`` counts the writes to the product (orders included); an update names the
    version it read, so it cannot overwrite a change it has not seen.
    """

    name = Text(required=True, min_length=1, max_length=200, blank=False, strip=True)
    slug = ma.fields.String(validate=[validate.Length(min=1, max=220), SLUG])
    description = Text(allow_none=True, max_length=10000, multiline=True)
    price = Money(required=True)
    stock = StrictInteger(load_default=0, validate=validate.Range(min=0, max=10**9))
    category_id = StrictInteger(allow_none=True, validate=ID_RANGE)
    is_active = StrictBoolean(load_default=True)
    version = ma.fields.Integer(dump_only=True)


class ProductReplaceSchema(ProductSchema):
    """Body of ``PUT /api/products/<id>``: the whole product and the version it replaces."""

    version = StrictInteger(
        required=True,
        load_only=True,
        validate=ID_RANGE,
        metadata={"description": "The version read before the change (409 if it moved on)"},
    )


class ProductPatchSchema(ProductReplaceSchema):
    """Partial product update: no defaults, so absent fields stay unchanged."""

    stock = StrictInteger(validate=validate.Range(min=0, max=10**9))
    is_active = StrictBoolean()


class PageArgsSchema(StrictSchema):
    """Pagination query arguments."""

    page = StrictInteger(from_text=True, load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = StrictInteger(
        from_text=True, load_default=20, validate=validate.Range(min=1, max=100)
    )


class ProductQuerySchema(PageArgsSchema):
    """Query arguments of ``GET /api/products``."""

    category_id = StrictInteger(from_text=True, validate=ID_RANGE)
    q = Text(min_length=1, max_length=200)
    min_price = Money(from_text=True)
    max_price = Money(from_text=True)
    in_stock = StrictBoolean(from_text=True)
    include_inactive = StrictBoolean(
        from_text=True,
        load_default=False,
        metadata={"description": "Include withdrawn products (admins only: 401/403 otherwise)"},
    )
    sort = ma.fields.String(load_default="name", validate=validate.OneOf(SORT_CHOICES))


class PageSchema(ma.Schema):
    """A page of results."""

    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    pages = ma.fields.Integer()


class ProductPageSchema(PageSchema):
    """A page of products."""

    items = ma.fields.List(ma.fields.Nested(ProductSchema))


class OrderItemInSchema(StrictSchema):
    """One requested order line."""

    product_id = StrictInteger(required=True, validate=ID_RANGE)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=10000))


class OrderCreateSchema(StrictSchema):
    """Body of ``POST /api/orders``."""

    items = ma.fields.List(
        ma.fields.Nested(OrderItemInSchema),
        required=True,
        validate=validate.Length(min=1, max=100),
    )


class OrderItemSchema(ma.Schema):
    """An order line as returned by the API."""

    product_id = ma.fields.Integer()
    product_name = ma.fields.String()
    quantity = ma.fields.Integer()
    unit_price = Money()


class OrderSchema(ma.Schema):
    """An order as returned by the API."""

    id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    status = ma.fields.String()
    total = Money()
    items = ma.fields.List(ma.fields.Nested(OrderItemSchema))
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class OrderPageSchema(PageSchema):
    """A page of orders."""

    items = ma.fields.List(ma.fields.Nested(OrderSchema))


class CheckSchema(ma.Schema):
    """One readiness check."""

    ok = ma.fields.Boolean()
    latency_ms = ma.fields.Float()
    error = ma.fields.String()


class StandbySchema(ma.Schema):
    """One streaming standby, as the primary sees it."""

    name = ma.fields.String(metadata={"description": "Its application_name"})
    state = ma.fields.String(metadata={"example": "streaming"})
    replay_lag_bytes = ma.fields.Integer(
        allow_none=True, metadata={"description": "WAL not yet replayed on the standby"}
    )
    replay_lag_ms = ma.fields.Integer(
        allow_none=True, metadata={"description": "Replay delay (null when idle)"}
    )


class ReplicationSchema(ma.Schema):
    """The database's replication, reported beside the checks (never their outcome)."""

    role = ma.fields.String(metadata={"enum": ["primary", "standby"]})
    expected = ma.fields.Integer(metadata={"description": "Standbys the deploy runs"})
    standbys = ma.fields.List(ma.fields.Nested(StandbySchema))
    ok = ma.fields.Boolean(metadata={"description": "Primary, expected standbys streaming"})


class HealthSchema(ma.Schema):
    """Liveness/readiness payload."""

    status = ma.fields.String()
    release = ma.fields.String(metadata={"description": "The release answering (BF_RELEASE)"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))
    replication = ma.fields.Nested(
        ReplicationSchema,
        metadata={"description": "Only with a replica deployed"},
    )


class HealthUnavailableSchema(ma.Schema):
    """A failed readiness check: the error envelope with the checks in ``data``."""

    success = ma.fields.Boolean(required=True, metadata={"enum": [False]})
    data = ma.fields.Nested(HealthSchema, required=True)
    error = ma.fields.String(required=True, metadata={"example": "postgres unavailable"})
    code = ma.fields.String(required=True, metadata={"enum": ["unavailable"]})
