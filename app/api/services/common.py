"""Helpers shared by the services."""

from __future__ import annotations

import math
from typing import Any

from slugify import slugify as _transliterating_slugify
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from api.errors import ConflictError
from api.extensions import db


def commit_or_conflict(message: str) -> None:
    """Commit, turning a constraint violation (e.g. a unique-value race) into a 409.

    Args:
        message: The conflict message.

    Raises:
        ConflictError: A unique or foreign-key constraint rejected the write.
    """
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ConflictError(message) from None


def slugify(text: str, max_length: int = 140) -> str:
    """Return a URL slug for ``text``: lowercase ASCII letters, digits and single hyphens.

    Other scripts are transliterated (python-slugify with text-unidecode), so "Чай" becomes
    ``chai`` and "緑茶" ``lu-cha`` rather than both becoming ``item``.

    Args:
        text: A name.
        max_length: Longest slug (cut at a word boundary where possible).

    Returns:
        The slug, ``item`` if nothing usable is left (a name of symbols only).
    """
    slug = _transliterating_slugify(text, max_length=max_length, word_boundary=True)
    return slug or "item"


def paginate(query: Select, page: int, per_page: int) -> dict[str, Any]:
    """Run ``query`` for one page.

    Args:
        query: An ordered select of ORM entities.
        page: 1-based page number.
        per_page: Page size.

    Returns:
        ``{"items", "page", "per_page", "total", "pages"}``.
    """
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": list(items),
        "page": page,
        "per_page": per_page,
        "total": total or 0,
        "pages": math.ceil((total or 0) / per_page),
    }
