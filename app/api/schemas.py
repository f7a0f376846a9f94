"""Marshmallow schemas: request validation and response serialisation (and the OpenAPI doc)."""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

SLUG = validate.Regexp(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be lowercase letters, digits and single hyphens."
)
MAX_MONEY = Decimal("99999999.99")
# Two validators, so a negative price reads "Must be greater than or equal to 0." (the contract).
MONEY_RANGE = [validate.Range(min=Decimal("0")), validate.Range(max=MAX_MONEY)]
SORT_CHOICES = ("name", "-name", "price", "-price", "created_at", "-created_at")


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
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=8, max=128)
    )
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))


class LoginSchema(StrictSchema):
    """Body of ``POST /api/auth/login``."""

    email = ma.fields.String(required=True, validate=validate.Length(min=1, max=255))
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=128)
    )


class LoginResultSchema(ma.Schema):
    """Result of a successful login."""

    access_token = ma.fields.String()
    user = ma.fields.Nested(UserSchema)


class CategorySchema(TimestampedSchema):
    """A category (request body and response)."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    slug = ma.fields.String(validate=[validate.Length(min=1, max=140), SLUG])
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=10000))


class ProductSchema(TimestampedSchema):
    """A product (request body and response); ``price`` is a string with two decimals."""

    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    slug = ma.fields.String(validate=[validate.Length(min=1, max=220), SLUG])
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=10000))
    price = ma.fields.Decimal(
        required=True,
        places=2,
        as_string=True,
        validate=MONEY_RANGE,
    )
    stock = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))
    category_id = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1))
    is_active = ma.fields.Boolean(load_default=True)


class ProductPatchSchema(ProductSchema):
    """Partial product update: no defaults, so absent fields stay unchanged."""

    stock = ma.fields.Integer(validate=validate.Range(min=0, max=10**9))
    is_active = ma.fields.Boolean()


class PageArgsSchema(StrictSchema):
    """Pagination query arguments."""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ProductQuerySchema(PageArgsSchema):
    """Query arguments of ``GET /api/products``."""

    category_id = ma.fields.Integer(validate=validate.Range(min=1))
    q = ma.fields.String(validate=validate.Length(min=1, max=200))
    min_price = ma.fields.Decimal(validate=MONEY_RANGE)
    max_price = ma.fields.Decimal(validate=MONEY_RANGE)
    in_stock = ma.fields.Boolean()
    include_inactive = ma.fields.Boolean(load_default=False)
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

    product_id = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    quantity = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=10000))


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
    unit_price = ma.fields.Decimal(places=2, as_string=True)


class OrderSchema(ma.Schema):
    """An order as returned by the API."""

    id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    status = ma.fields.String()
    total = ma.fields.Decimal(places=2, as_string=True)
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


class HealthSchema(ma.Schema):
    """Liveness/readiness payload."""

    status = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))
