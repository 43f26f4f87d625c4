"""Release 0.2.0: the authority ledger, and each delivery's placement (operators find a placement's messages).

Adds only what is missing, so that a database written before schemas were versioned (by any commit
after release 0.1.0) is brought up to this release too.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from corridor_runtime.migration.ops import (
    add_column_if_missing,
    create_index_if_missing,
    downgrade_delivery_tables_0_2_0,
    upgrade_delivery_tables_0_2_0,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERVICE = "notifications"


def upgrade() -> None:
    upgrade_delivery_tables_0_2_0(SERVICE)
    add_column_if_missing("notifications_deliveries", sa.Column("placement_id", sa.String(length=36), nullable=True))
    create_index_if_missing(
        "ix_notifications_deliveries_placement_id", "notifications_deliveries", ["placement_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_deliveries_placement_id", table_name="notifications_deliveries")
    with op.batch_alter_table("notifications_deliveries") as table:
        table.drop_column("placement_id")
    downgrade_delivery_tables_0_2_0(SERVICE)
