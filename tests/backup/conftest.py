"""Fixtures of the backup tests (defined in bf_backup_helpers, shared with the test modules)."""

from bf_backup_helpers import stack  # noqa: F401 - pytest finds fixtures here
