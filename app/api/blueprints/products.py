"""Products: cached, filtered listing; admin writes."""

from __future__ import annotations

from typing import Any

from flask import Response

from api.errors import envelope_json
from api.models import Product
from api.openapi import BEARER, OPTIONAL_BEARER, EnvelopeBlueprint
from api.schemas import (
    ProductPageSchema,
    ProductPatchSchema,
    ProductQuerySchema,
    ProductReplaceSchema,
    ProductSchema,
)
from api.services import cache, catalog
from api.services.auth import admin_required, require_admin, viewer_is_admin
from api.services.common import paginate

blp = EnvelopeBlueprint("products", __name__, description="Products")
_page_schema = ProductPageSchema()
# Every field may be left out of a PATCH except the version it applies to.
_PATCH_PARTIAL = tuple(name for name in ProductPatchSchema().fields if name != "version")


@blp.route("", methods=["GET"])
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductPageSchema)
@blp.error(401, "include_inactive without a valid token, or an invalid token")
@blp.error(403, "include_inactive by a caller who is not an admin")
@blp.doc(security=OPTIONAL_BEARER)
def list_products(args: dict[str, Any]) -> Any:
    """List products with pagination, filters, search and sorting (cached in Redis).

    Withdrawn products (``is_active`` false) are listed only with ``include_inactive=true``,
    which needs an admin token.
    """
    if args["include_inactive"]:
        require_admin()
    # The cache holds the page as JSON text, sent as it is: no parse and dump per hit.
    cached, key = cache.get_listing(args)
    if cached is None:
        page = paginate(catalog.product_query(args), args["page"], args["per_page"])
        cached = cache.encode_listing(_page_schema.dump(page))
        cache.store_listing(key, cached)
    return envelope_json(cached)


@blp.route("", methods=["POST"])
@admin_required
@blp.arguments(ProductSchema)
@blp.response(201, ProductSchema)
@blp.error(403, "Not an admin")
@blp.error(409, "Slug already used, or category_id names no category")
@blp.doc(security=BEARER)
def create_product(body: dict[str, Any]) -> Product:
    """Create a product (admin)."""
    return catalog.save_product(body)


@blp.route("/<int:product_id>", methods=["GET"])
@blp.response(200, ProductSchema)
@blp.error(404, "No such product (a withdrawn one is visible to admins only)")
@blp.doc(security=OPTIONAL_BEARER)
def get_product(product_id: int) -> Any:
    """Return one product."""
    # The token is checked first, so an invalid one is a 401 before any query.
    return catalog.read_product(product_id, include_inactive=viewer_is_admin())


@blp.route("/<int:product_id>", methods=["PUT"])
@admin_required
@blp.arguments(ProductReplaceSchema)
@blp.response(200, ProductSchema)
@blp.error(403, "Not an admin")
@blp.error(404, "No such product")
@blp.error(409, "The product changed since the given version, slug used, unknown category_id")
@blp.doc(security=BEARER)
def replace_product(body: dict[str, Any], product_id: int) -> Product:
    """Replace a product (admin); ``version`` must be the product's current version."""
    product = catalog.get_product(product_id, include_inactive=True)
    body.setdefault("description", None)
    body.setdefault("category_id", None)
    return catalog.save_product(body, product)


@blp.route("/<int:product_id>", methods=["PATCH"])
@admin_required
@blp.arguments(ProductPatchSchema(partial=_PATCH_PARTIAL))
@blp.response(200, ProductSchema)
@blp.error(403, "Not an admin")
@blp.error(404, "No such product")
@blp.error(409, "The product changed since the given version, slug used, unknown category_id")
@blp.doc(security=BEARER)
def update_product(body: dict[str, Any], product_id: int) -> Product:
    """Change some fields of a product (admin); ``version`` must be its current version."""
    return catalog.save_product(body, catalog.get_product(product_id, include_inactive=True))


@blp.route("/<int:product_id>", methods=["DELETE"])
@admin_required
@blp.response(204)
@blp.error(403, "Not an admin")
@blp.error(404, "No such product")
@blp.error(409, "Orders reference the product")
@blp.doc(security=BEARER)
def delete_product(product_id: int) -> Response:
    """Delete a product no order references (admin)."""
    catalog.delete_product(catalog.get_product(product_id, include_inactive=True))
    return Response(status=204)
