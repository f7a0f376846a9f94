"""Product versions (optimistic concurrency) and per-user token versions (revocation).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the existing rows: every product starts at version 1, every user's
    # tokens issued before this revision (no "ver" claim, read as 0) stay valid.
    op.add_column(
        "products", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "users", sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("users", "token_version")
    op.drop_column("products", "version")
