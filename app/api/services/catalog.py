"""Categories and products: writes (with uniqueness checks and cache invalidation) and search."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, exists, or_, select
from sqlalchemy.orm.exc import StaleDataError

from api.errors import ConflictError, NotFoundError
from api.extensions import db
from api.models import Category, OrderItem, Product
from api.services.cache import invalidate_products
from api.services.common import commit_or_conflict, slugify

_SORTS = {
    "name": (Product.name.asc(), Product.id.asc()),
    "-name": (Product.name.desc(), Product.id.desc()),
    "price": (Product.price.asc(), Product.id.asc()),
    "-price": (Product.price.desc(), Product.id.desc()),
    "created_at": (Product.created_at.asc(), Product.id.asc()),
    "-created_at": (Product.created_at.desc(), Product.id.desc()),
}


def get_category(category_id: int) -> Category:
    """Return a category.

    Args:
        category_id: Its id.

    Returns:
        The category.

    Raises:
        NotFoundError: No such category.
    """
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFoundError(f"Category {category_id} not found")
    return category


def _check_unique(model: type, field: str, value: Any, own_id: int | None) -> None:
    column = getattr(model, field)
    query = select(model.id).where(column == value)
    if own_id is not None:
        query = query.where(model.id != own_id)
    if db.session.scalar(query) is not None:
        raise ConflictError(f"{model.__name__} with this {field} already exists")


def save_category(data: dict[str, Any], category: Category | None = None) -> Category:
    """Create a category or update one with the given fields.

    Args:
        data: Validated fields (``name``, ``slug``, ``description``).
        category: The category to update, or None to create.

    Returns:
        The saved category.

    Raises:
        ConflictError: Name or slug already used by another category.
    """
    creating = category is None
    if category is None:
        category = Category()
    if "slug" not in data and (creating or "name" in data):
        data = {**data, "slug": slugify(data.get("name", category.name), max_length=140)}
    own_id = None if creating else category.id
    for field in ("name", "slug"):
        if field in data:
            _check_unique(Category, field, data[field], own_id)
    for key, value in data.items():
        setattr(category, key, value)
    if creating:
        db.session.add(category)
    commit_or_conflict("Category with this name or slug already exists")
    invalidate_products()
    return category


def delete_category(category: Category) -> None:
    """Delete a category that no product uses.

    Args:
        category: The category.

    Raises:
        ConflictError: Products still belong to it.
    """
    if db.session.scalar(select(exists().where(Product.category_id == category.id))):
        raise ConflictError("Category still has products")
    db.session.delete(category)
    commit_or_conflict("Category still has products")
    invalidate_products()


def get_product(product_id: int, include_inactive: bool = False) -> Product:
    """Return a product.

    Args:
        product_id: Its id.
        include_inactive: Return a withdrawn product too (for admins); otherwise it is
            reported as not found, so its existence is not revealed.

    Returns:
        The product.

    Raises:
        NotFoundError: No such product (or it is withdrawn and ``include_inactive`` is false).
    """
    product = db.session.get(Product, product_id)
    if product is None or not (product.is_active or include_inactive):
        raise NotFoundError(f"Product {product_id} not found")
    return product


_PRODUCTS = Product.__table__
# Built once, so SQLAlchemy memoises its cache key and compiles it once (the compiled cache):
# a request only binds the id. A Core select of the table's columns: rows, with no ORM instance
# to build, instrument and track in the session for a read that changes nothing.
_PRODUCT_BY_ID = select(*_PRODUCTS.columns).where(_PRODUCTS.c.id == bindparam("product_id"))


def read_product(product_id: int, include_inactive: bool = False) -> RowMapping:
    """Return a product's columns, for a response (one query, no ORM instance).

    Args:
        product_id: Its id.
        include_inactive: Return a withdrawn product too (for admins); otherwise it is
            reported as not found, so its existence is not revealed.

    Returns:
        The row, keyed by column name (the attribute names of :class:`Product`).

    Raises:
        NotFoundError: No such product (or it is withdrawn and ``include_inactive`` is false).
    """
    row = db.session.execute(_PRODUCT_BY_ID, {"product_id": product_id}).mappings().first()
    if row is None or not (row["is_active"] or include_inactive):
        raise NotFoundError(f"Product {product_id} not found")
    return row


def _version_conflict(product: Product) -> ConflictError:
    return ConflictError(
        f"Product {product.id} was changed by someone else (now version {product.version}): "
        "read it again and reapply the change",
        code="version_conflict",
    )


def save_product(data: dict[str, Any], product: Product | None = None) -> Product:
    """Create a product or update one with the given fields.

    An update names the ``version`` it read: if the product was written since (an order
    decremented its stock, another admin edited it), nothing is changed and the caller gets a
    409, so an absolute ``stock`` never overwrites a change it has not seen. The version column
    also guards the row between this check and the UPDATE (SQLAlchemy's ``version_id_col``).

    Args:
        data: Validated product fields (with ``version`` for an update).
        product: The product to update, or None to create.

    Returns:
        The saved product.

    Raises:
        ConflictError: Stale ``version``, slug used by another product, or ``category_id``
            names no category.
    """
    creating = product is None
    if product is None:
        product = Product()
    data = dict(data)
    expected_version = data.pop("version", None)
    if not creating and expected_version != product.version:
        raise _version_conflict(product)
    if "slug" not in data and creating:
        data["slug"] = slugify(data["name"], max_length=220)
    category_id = data.get("category_id")
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise ConflictError(f"Category {category_id} does not exist", code="unknown_reference")
    if "slug" in data:
        _check_unique(Product, "slug", data["slug"], None if creating else product.id)
    for key, value in data.items():
        setattr(product, key, value)
    if creating:
        db.session.add(product)
    try:
        commit_or_conflict("Product with this slug already exists")
    except StaleDataError:
        db.session.rollback()
        raise _version_conflict(db.session.get(Product, product.id)) from None
    invalidate_products()
    return product


def delete_product(product: Product) -> None:
    """Delete a product that no order references.

    Args:
        product: The product.

    Raises:
        ConflictError: Orders reference it (deactivate it instead).
    """
    if db.session.scalar(select(exists().where(OrderItem.product_id == product.id))):
        raise ConflictError("Product is referenced by orders; set is_active=false instead")
    db.session.delete(product)
    commit_or_conflict("Product is referenced by orders")
    invalidate_products()


def product_query(args: dict[str, Any]) -> Select:
    """Build the filtered, sorted product listing query.

    Args:
        args: Parsed :class:`api.schemas.ProductQuerySchema` arguments.

    Returns:
        The select statement.
    """
    query = select(Product)
    if not args.get("include_inactive"):
        query = query.where(Product.is_active.is_(True))
    if args.get("category_id") is not None:
        query = query.where(Product.category_id == args["category_id"])
    if args.get("q"):
        # Escape LIKE wildcards so a search for "50%" means the text "50%".
        term = args["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{term}%"
        query = query.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.description.ilike(pattern, escape="\\"),
            )
        )
    if args.get("min_price") is not None:
        query = query.where(Product.price >= args["min_price"])
    if args.get("max_price") is not None:
        query = query.where(Product.price <= args["max_price"])
    if args.get("in_stock") is True:
        query = query.where(Product.stock > 0)
    elif args.get("in_stock") is False:
        query = query.where(Product.stock == 0)
    return query.order_by(*_SORTS[args.get("sort") or "name"])
