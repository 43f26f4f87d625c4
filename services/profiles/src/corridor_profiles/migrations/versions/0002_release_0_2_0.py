"""Release 0.2.0: the authority ledger, each opportunity's revision (receivers apply only a newer one), and
the erasure that emptied a host placement (a repeated request is answered again).

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
    downgrade_delivery_tables_0_2_0,
    upgrade_delivery_tables_0_2_0,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERVICE = "profiles"


def upgrade() -> None:
    upgrade_delivery_tables_0_2_0(SERVICE)
    add_column_if_missing(
        "profiles_opportunities", sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    add_column_if_missing("profiles_host_placements", sa.Column("erasure_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("profiles_host_placements") as table:
        table.drop_column("erasure_id")
    with op.batch_alter_table("profiles_opportunities") as table:
        table.drop_column("revision")
    downgrade_delivery_tables_0_2_0(SERVICE)
