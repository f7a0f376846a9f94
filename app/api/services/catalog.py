"""Categories and products: writes (with uniqueness checks and cache invalidation) and search."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, or_, select

from api.errors import ConflictError, NotFoundError, ValidationError
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
        data = {**data, "slug": slugify(data.get("name", category.name))}
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


def get_product(product_id: int) -> Product:
    """Return a product.

    Args:
        product_id: Its id.

    Returns:
        The product.

    Raises:
        NotFoundError: No such product.
    """
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFoundError(f"Product {product_id} not found")
    return product


def save_product(data: dict[str, Any], product: Product | None = None) -> Product:
    """Create a product or update one with the given fields.

    Args:
        data: Validated product fields.
        product: The product to update, or None to create.

    Returns:
        The saved product.

    Raises:
        ValidationError: ``category_id`` names no category.
        ConflictError: Slug already used by another product.
    """
    creating = product is None
    if product is None:
        product = Product()
    if "slug" not in data and creating:
        data = {**data, "slug": slugify(data["name"])}
    category_id = data.get("category_id")
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise ValidationError({"category_id": [f"Category {data['category_id']} does not exist."]})
    if "slug" in data:
        _check_unique(Product, "slug", data["slug"], None if creating else product.id)
    for key, value in data.items():
        setattr(product, key, value)
    if creating:
        db.session.add(product)
    commit_or_conflict("Product with this slug already exists")
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
