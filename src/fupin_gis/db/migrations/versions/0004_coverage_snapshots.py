"""Coverage snapshots: coverage_runs and coverage_villages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("coverage_runs"):
        return  # created by the baseline from the current schema module
    op.create_table(
        "coverage_runs",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("data_version", sa.BigInteger()),
        sa.Column("rules", JSONB(), nullable=False),
        sa.Column("summary", JSONB(), nullable=False),
        sa.Column("network", JSONB()),
    )
    op.create_table(
        "coverage_villages",
        sa.Column(
            "run_id",
            sa.BigInteger(),
            sa.ForeignKey("coverage_runs.id", ondelete="CASCADE", name="fk_coverage_villages_run_id"),
            primary_key=True,
        ),
        sa.Column("code", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text()),
        sa.Column("result", JSONB(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("coverage_villages")
    op.drop_table("coverage_runs")
