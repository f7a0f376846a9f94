"""Categories: public reads, admin writes."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy import select

from api.extensions import db
from api.models import Category
from api.openapi import BEARER, EnvelopeBlueprint
from api.schemas import CategorySchema
from api.services import catalog
from api.services.auth import admin_required

blp = EnvelopeBlueprint("categories", __name__, description="Product categories")


@blp.route("", methods=["GET"])
@blp.response(200, CategorySchema(many=True))
def list_categories() -> list[Category]:
    """List all categories by name."""
    return list(db.session.scalars(select(Category).order_by(Category.name)))


@blp.route("", methods=["POST"])
@admin_required
@blp.arguments(CategorySchema)
@blp.response(201, CategorySchema)
@blp.error(403, "Not an admin")
@blp.error(409, "Name or slug already used")
@blp.doc(security=BEARER)
def create_category(body: dict[str, Any]) -> Category:
    """Create a category (admin)."""
    return catalog.save_category(body)


@blp.route("/<int:category_id>", methods=["GET"])
@blp.response(200, CategorySchema)
@blp.error(404, "No such category")
def get_category(category_id: int) -> Category:
    """Return one category."""
    return catalog.get_category(category_id)


@blp.route("/<int:category_id>", methods=["PUT"])
@admin_required
@blp.arguments(CategorySchema)
@blp.response(200, CategorySchema)
@blp.error(403, "Not an admin")
@blp.error(404, "No such category")
@blp.error(409, "Name or slug already used")
@blp.doc(security=BEARER)
def replace_category(body: dict[str, Any], category_id: int) -> Category:
    """Replace a category (admin)."""
    category = catalog.get_category(category_id)
    body.setdefault("description", None)
    return catalog.save_category(body, category)


@blp.route("/<int:category_id>", methods=["PATCH"])
@admin_required
@blp.arguments(CategorySchema(partial=True))
@blp.response(200, CategorySchema)
@blp.error(403, "Not an admin")
@blp.error(404, "No such category")
@blp.error(409, "Name or slug already used")
@blp.doc(security=BEARER)
def update_category(body: dict[str, Any], category_id: int) -> Category:
    """Change some fields of a category (admin)."""
    return catalog.save_category(body, catalog.get_category(category_id))


@blp.route("/<int:category_id>", methods=["DELETE"])
@admin_required
@blp.response(204)
@blp.error(403, "Not an admin")
@blp.error(404, "No such category")
@blp.error(409, "Products still use the category")
@blp.doc(security=BEARER)
def delete_category(category_id: int) -> Response:
    """Delete a category without products (admin)."""
    catalog.delete_category(catalog.get_category(category_id))
    return Response(status=204)
