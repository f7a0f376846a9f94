"""Orders: placing one atomically against concurrent buyers, and reading them back."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.errors import ConflictError, NotFoundError
from api.extensions import db
from api.fields import MAX_MONEY
from api.models import Order, OrderItem, Product, User
from api.services.cache import invalidate_products
from api.services.common import paginate


def place_order(user: User, lines: list[dict[str, Any]]) -> Order:
    """Create an order, checking and decrementing stock in one transaction.

    The product rows are locked with ``SELECT ... FOR UPDATE`` in id order: a concurrent order
    for the same products waits for this transaction, then sees the decremented stock, so two
    orders can never sell the same last item. Locking in a fixed order prevents deadlocks
    between orders that share several products.

    Args:
        user: The buyer.
        lines: ``[{"product_id": int, "quantity": int}, ...]``; repeated products are merged.

    Returns:
        The committed order.

    Raises:
        ConflictError: A product id does not exist, a product is inactive or has too little
            stock (names the product), or the total does not fit ``Numeric(10, 2)``.
    """
    wanted: dict[int, int] = OrderedDict()
    for line in lines:
        wanted[line["product_id"]] = wanted.get(line["product_id"], 0) + line["quantity"]
    try:
        products = db.session.scalars(
            select(Product)
            .where(Product.id.in_(sorted(wanted)))
            .order_by(Product.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        by_id = {product.id: product for product in products}
        missing = sorted(set(wanted) - set(by_id))
        if missing:
            ids = ", ".join(str(pid) for pid in missing)
            raise ConflictError(f"Unknown product id(s) in items: {ids}", code="unknown_reference")

        order = Order(user_id=user.id, status="placed", total=Decimal("0.00"))
        total = Decimal("0.00")
        for product_id, quantity in wanted.items():
            product = by_id[product_id]
            if not product.is_active:
                raise ConflictError(
                    f"Product '{product.name}' (id {product.id}) is not available",
                    code="product_unavailable",
                )
            if product.stock < quantity:
                raise ConflictError(
                    f"Insufficient stock for product '{product.name}' (id {product.id}): "
                    f"requested {quantity}, available {product.stock}",
                    code="insufficient_stock",
                )
            product.stock -= quantity
            total += product.price * quantity
            order.items.append(
                OrderItem(
                    product_id=product.id,
                    product_name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                )
            )
        if total > MAX_MONEY:
            raise ConflictError(
                f"Order total {total} exceeds the maximum of {MAX_MONEY}: split the order",
                code="order_too_large",
            )
        order.total = total
        db.session.add(order)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    invalidate_products()
    return order


def list_orders(user: User, page: int, per_page: int) -> dict[str, Any]:
    """Return a page of orders: the user's own, or all of them for an admin.

    Args:
        user: The caller.
        page: 1-based page.
        per_page: Page size.

    Returns:
        The page dictionary.
    """
    query = select(Order).options(selectinload(Order.items)).order_by(Order.id.desc())
    if not user.is_admin:
        query = query.where(Order.user_id == user.id)
    return paginate(query, page, per_page)


def get_order(user: User, order_id: int) -> Order:
    """Return an order the user may see.

    Args:
        user: The caller.
        order_id: The order id.

    Returns:
        The order.

    Raises:
        NotFoundError: No such order, or it belongs to someone else (not revealed).
    """
    order = db.session.get(Order, order_id, options=[selectinload(Order.items)])
    if order is None or (order.user_id != user.id and not user.is_admin):
        raise NotFoundError(f"Order {order_id} not found")
    return order
