"""The road network cached per road, rebuilt only where roads changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("network_cache"):
        op.create_table(
            "network_cache",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("srid", sa.Integer(), nullable=False),
            sa.Column("snap_tolerance_m", sa.Double(), nullable=False),
            sa.Column("built_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            comment="路网缓存（设置）",
        )
    if not inspector.has_table("network_roads"):
        op.create_table(
            "network_roads",
            sa.Column("road_id", sa.BigInteger(), primary_key=True),
            sa.Column("fp", sa.Text(), nullable=False),
            sa.Column("cuts", sa.Integer(), nullable=False),
            sa.Column("pieces", sa.LargeBinary(), nullable=False),
            comment="路网缓存（每条道路的分段）",
        )


def downgrade() -> None:
    op.drop_table("network_roads")
    op.drop_table("network_cache")
