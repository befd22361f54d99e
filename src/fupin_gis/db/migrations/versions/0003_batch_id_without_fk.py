"""Layer tables: batch_id without a foreign key (batches are append-only; the RI trigger was costly).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in sa.inspect(bind).get_table_names():
        for fk in sa.inspect(bind).get_foreign_keys(table):
            if (
                fk["name"]
                and fk["referred_table"] == "batches"
                and fk["constrained_columns"] == ["batch_id"]
                and table != "feature_history"
            ):
                op.drop_constraint(str(fk["name"]), table, type_="foreignkey")


def downgrade() -> None:
    pass
