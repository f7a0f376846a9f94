"""Flask CLI commands: ``create-admin`` and ``seed-demo``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from api.extensions import db
from api.models import Category, Product
from api.services.auth import upsert_admin
from api.services.cache import invalidate_products

DEMO_CATALOG = {
    "Books": [("The Pragmatic Programmer", "39.90", 12), ("Clean Architecture", "34.50", 7)],
    "Electronics": [("USB-C Cable", "9.99", 120), ("Mechanical Keyboard", "89.00", 15)],
    "Home": [("Coffee Mug", "7.50", 40), ("Desk Lamp", "24.99", 0)],
}


def register_cli(app: Flask) -> None:
    """Attach the commands to ``app``.

    Args:
        app: The application.
    """

    @app.cli.command("create-admin")
    @click.option("--email", envvar="ADMIN_EMAIL", required=True, help="Admin email address.")
    @click.option(
        "--password-file",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="File holding the password (never pass it on the command line).",
    )
    @click.option("--name", default="Administrator", show_default=True, help="Display name.")
    def create_admin(email: str, password_file: Path, name: str) -> None:
        """Create the admin account, or make it admin with this password (idempotent)."""
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        if len(password) < 8:
            raise click.ClickException("the admin password must be at least 8 characters")
        user, outcome = upsert_admin(email, password, name)
        click.echo(f"admin {user.email} {outcome}")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Add demo categories and products (idempotent: existing slugs are kept)."""
        from api.services.common import slugify

        added = 0
        for category_name, products in DEMO_CATALOG.items():
            slug = slugify(category_name)
            category = db.session.scalar(select(Category).where(Category.slug == slug))
            if category is None:
                category = Category(name=category_name, slug=slug)
                db.session.add(category)
                db.session.flush()
            for name, price, stock in products:
                product_slug = slugify(name)
                if db.session.scalar(select(Product.id).where(Product.slug == product_slug)):
                    continue
                db.session.add(
                    Product(
                        name=name,
                        slug=product_slug,
                        description=f"Demo product: {name}.",
                        price=Decimal(price),
                        stock=stock,
                        category_id=category.id,
                    )
                )
                added += 1
        db.session.commit()
        invalidate_products()
        click.echo(f"seeded {added} demo products")
