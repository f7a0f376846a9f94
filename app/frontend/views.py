"""Shop pages: product list, product detail, placing an order, my orders."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .api_client import APIClient, APIError
from .forms import OrderForm

bp = Blueprint("shop", __name__)

_MAX_QUERY_LENGTH = 100


def api() -> APIClient:
    """Return the application's API client."""
    return current_app.extensions["api_client"]


def access_token() -> str | None:
    """Return the JWT of the logged-in user; it lives only in the server-side session."""
    return session.get("access_token")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the login page, coming back here afterwards."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not access_token():
            flash("Please log in first.", "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def _page_arg() -> int:
    page = request.args.get("page", default=1, type=int) or 1
    return max(1, min(page, 10_000))


@bp.get("/")
def product_list() -> str:
    """Paginated products, filtered by category and a search text."""
    page = _page_arg()
    category_id = request.args.get("category_id", type=int)
    q = (request.args.get("q") or "").strip()[:_MAX_QUERY_LENGTH]
    try:
        result = api().list_products(
            page=page,
            per_page=current_app.config["PRODUCTS_PER_PAGE"],
            category_id=category_id,
            q=q or None,
        )
    except APIError as exc:
        if exc.status != 400:
            raise
        flash(f"Invalid filter: {exc.message}", "error")
        result = {"items": [], "page": 1, "pages": 0, "total": 0}
    categories = api().list_categories()
    return render_template(
        "product_list.html",
        products=result.get("items", []),
        page=result.get("page", page),
        pages=result.get("pages", 0),
        total=result.get("total", 0),
        categories=categories,
        category_id=category_id,
        q=q,
    )


@bp.get("/products/<int:product_id>")
def product_detail(product_id: int) -> str:
    """One product, with the order form for logged-in users."""
    try:
        product = api().get_product(product_id)
    except APIError as exc:
        if exc.status == 404:
            abort(404)
        raise
    category = None
    if product.get("category_id") is not None:
        category = next(
            (c for c in api().list_categories() if c.get("id") == product["category_id"]), None
        )
    return render_template(
        "product_detail.html", product=product, category=category, form=OrderForm()
    )


@bp.post("/products/<int:product_id>/order")
@login_required
def place_order(product_id: int) -> Any:
    """Place an order for one product (POST /api/orders, never retried)."""
    form = OrderForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("shop.product_detail", product_id=product_id))
    try:
        order = api().create_order(
            access_token(), [{"product_id": product_id, "quantity": form.quantity.data}]
        )
    except APIError as exc:
        if exc.status == 401:
            raise
        flash(exc.message, "error")
        if exc.status == 404:
            return redirect(url_for("shop.product_list"))
        return redirect(url_for("shop.product_detail", product_id=product_id))
    flash(f"Order #{order['id']} placed: total {order['total']}.", "success")
    return redirect(url_for("shop.my_orders"))


@bp.get("/orders")
@login_required
def my_orders() -> str:
    """The logged-in user's orders, newest first as the API returns them."""
    page = _page_arg()
    result = api().list_orders(access_token(), page=page, per_page=20)
    return render_template(
        "my_orders.html",
        orders=result.get("items", []),
        page=result.get("page", page),
        pages=result.get("pages", 0),
        total=result.get("total", 0),
    )
