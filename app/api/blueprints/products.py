"""Products: cached, filtered listing; admin writes."""

from __future__ import annotations

from typing import Any

from flask import Response

from api.errors import envelope
from api.models import Product
from api.openapi import EnvelopeBlueprint
from api.schemas import ProductPageSchema, ProductPatchSchema, ProductQuerySchema, ProductSchema
from api.services import cache, catalog
from api.services.auth import admin_required
from api.services.common import paginate

blp = EnvelopeBlueprint("products", __name__, description="Products")
BEARER = [{"bearerAuth": []}]
_page_schema = ProductPageSchema()


@blp.route("", methods=["GET"])
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductPageSchema)
def list_products(args: dict[str, Any]) -> Any:
    """List products with pagination, filters, search and sorting (cached in Redis)."""
    # The cache holds the serialised page, so it is returned as is rather than dumped again.
    cached, key = cache.get_listing(args)
    if cached is None:
        page = paginate(catalog.product_query(args), args["page"], args["per_page"])
        cached = _page_schema.dump(page)
        cache.store_listing(key, cached)
    return envelope(cached)


@blp.route("", methods=["POST"])
@admin_required
@blp.arguments(ProductSchema)
@blp.response(201, ProductSchema)
@blp.alt_response(409, description="Slug already used")
@blp.doc(security=BEARER)
def create_product(body: dict[str, Any]) -> Product:
    """Create a product (admin)."""
    return catalog.save_product(body)


@blp.route("/<int:product_id>", methods=["GET"])
@blp.response(200, ProductSchema)
@blp.alt_response(404, description="No such product")
def get_product(product_id: int) -> Product:
    """Return one product."""
    return catalog.get_product(product_id)


@blp.route("/<int:product_id>", methods=["PUT"])
@admin_required
@blp.arguments(ProductSchema)
@blp.response(200, ProductSchema)
@blp.doc(security=BEARER)
def replace_product(body: dict[str, Any], product_id: int) -> Product:
    """Replace a product (admin)."""
    product = catalog.get_product(product_id)
    body.setdefault("description", None)
    body.setdefault("category_id", None)
    return catalog.save_product(body, product)


@blp.route("/<int:product_id>", methods=["PATCH"])
@admin_required
@blp.arguments(ProductPatchSchema(partial=True))
@blp.response(200, ProductSchema)
@blp.doc(security=BEARER)
def update_product(body: dict[str, Any], product_id: int) -> Product:
    """Change some fields of a product (admin)."""
    return catalog.save_product(body, catalog.get_product(product_id))


@blp.route("/<int:product_id>", methods=["DELETE"])
@admin_required
@blp.response(204)
@blp.alt_response(409, description="Orders reference the product")
@blp.doc(security=BEARER)
def delete_product(product_id: int) -> Response:
    """Delete a product no order references (admin)."""
    catalog.delete_product(catalog.get_product(product_id))
    return Response(status=204)
