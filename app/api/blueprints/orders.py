"""Orders of the authenticated user (admins see all)."""

from __future__ import annotations

from typing import Any

from flask import g

from api.models import Order
from api.openapi import BEARER, EnvelopeBlueprint
from api.schemas import OrderCreateSchema, OrderPageSchema, OrderSchema, PageArgsSchema
from api.services import orders as order_service
from api.services.auth import login_required

blp = EnvelopeBlueprint("orders", __name__, description="Orders")


@blp.route("", methods=["POST"])
@login_required
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
@blp.error(
    409,
    "Insufficient stock or a withdrawn product (the message names it), an unknown product id, "
    "or a total beyond 99999999.99",
)
@blp.doc(security=BEARER)
def create_order(body: dict[str, Any]) -> Order:
    """Place an order: stock is checked and decremented atomically."""
    return order_service.place_order(g.user, body["items"])


@blp.route("", methods=["GET"])
@login_required
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, OrderPageSchema)
@blp.doc(security=BEARER)
def list_orders(args: dict[str, Any]) -> dict[str, Any]:
    """List the caller's orders (all orders for an admin), newest first."""
    return order_service.list_orders(g.user, args["page"], args["per_page"])


@blp.route("/<int:order_id>", methods=["GET"])
@login_required
@blp.response(200, OrderSchema)
@blp.error(404, "No such order, or not the caller's")
@blp.doc(security=BEARER)
def get_order(order_id: int) -> Order:
    """Return one of the caller's orders (any order for an admin)."""
    return order_service.get_order(g.user, order_id)
