"""Coverage snapshots keep the joint harden plan, plan versus actual, and one row a household.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("coverage_runs")}
    for name in ("harden_plan", "plan"):
        if name not in have:
            op.add_column("coverage_runs", sa.Column(name, JSONB()))
    if inspector.has_table("coverage_households"):
        return  # created by the baseline from the current schema module
    op.create_table(
        "coverage_households",
        sa.Column(
            "run_id",
            sa.BigInteger(),
            sa.ForeignKey("coverage_runs.id", ondelete="CASCADE", name="fk_coverage_households_run_id"),
            primary_key=True,
        ),
        sa.Column("household_id", sa.BigInteger(), primary_key=True),
        sa.Column("code", sa.Text()),
        sa.Column("village_code", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer()),
        sa.Column("water_ok", sa.Boolean(), nullable=False),
        sa.Column("near_road", sa.Boolean(), nullable=False),
        sa.Column("missing", ARRAY(sa.Text()), nullable=False),
    )
    op.create_index("ix_coverage_households_village_code", "coverage_households", ["village_code"])


def downgrade() -> None:
    op.drop_table("coverage_households")
    op.drop_column("coverage_runs", "plan")
    op.drop_column("coverage_runs", "harden_plan")
