"""The notifications schema's Alembic environment: the runtime's (corridor_runtime.migration)."""

from corridor_runtime.migration.environment import run

run()
