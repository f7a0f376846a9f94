"""Alembic environment for Flask-Migrate: the engine and metadata come from the Flask app.

Unlike Flask-Migrate's template this does not call ``logging.config.fileConfig``, which would
replace the application's JSON logging.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import context
from flask import current_app

config = context.config
logger = logging.getLogger("alembic.env")
target_db = current_app.extensions["migrate"].db


def _engine() -> Any:
    return target_db.engine


def run_migrations_offline() -> None:
    """Emit SQL for the migrations without a database connection."""
    url = _engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the application's database."""

    def skip_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        # An autogenerate run that finds no change must not write an empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty)
    conf_args.setdefault("compare_type", True)
    with _engine().connect() as connection:
        # The app's statement_timeout/lock_timeout bound requests; a schema change may
        # legitimately take longer (an index on a large table), so this session has none.
        connection.exec_driver_sql("SET statement_timeout = 0")
        connection.exec_driver_sql("SET lock_timeout = 0")
        connection.commit()
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
