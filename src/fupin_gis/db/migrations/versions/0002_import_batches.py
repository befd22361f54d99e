"""Import batches: status, report, rollback time; feature history for rollbacks of upserts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database created at 0001 from a newer catalog module may have these already.
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("batches")}
    if "status" not in have:
        op.add_column("batches", sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'committed'")))
        op.add_column("batches", sa.Column("report", JSONB()))
        op.add_column("batches", sa.Column("rolled_back_at", sa.DateTime(timezone=True)))
        op.create_check_constraint("ck_batches_status", "batches", "status IN ('committed', 'rolled_back')")
        op.create_index("ix_batches_sha256", "batches", ["sha256"])
    if not sa.inspect(bind).has_table("feature_history"):
        op.create_table(
            "feature_history",
            sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
            sa.Column(
                "batch_id",
                sa.BigInteger(),
                sa.ForeignKey("batches.id", name="fk_feature_history_batch_id"),
                nullable=False,
            ),
            sa.Column("layer", sa.Text(), nullable=False),
            sa.Column("feature_id", sa.BigInteger(), nullable=False),
            sa.Column("old", JSONB(), nullable=False),
            comment="被导入覆盖的要素",
        )
        op.create_index("ix_feature_history_batch_id", "feature_history", ["batch_id"])


def downgrade() -> None:
    op.drop_table("feature_history")
    op.drop_index("ix_batches_sha256", "batches")
    op.drop_constraint("ck_batches_status", "batches")
    for col in ("rolled_back_at", "report", "status"):
        op.drop_column("batches", col)
