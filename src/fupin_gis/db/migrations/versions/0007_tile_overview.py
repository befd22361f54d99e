"""Overview geometry for low-zoom tiles of line and point layers.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("tile_overview"):
        op.create_table(
            "tile_overview",
            sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
            sa.Column("layer", sa.Text(), nullable=False),
            sa.Column("band", sa.Integer(), nullable=False),
            sa.Column("s", sa.Text()),
            sa.Column("geom", Geometry(srid=4490, spatial_index=False), nullable=False),
        )
        op.create_index("ix_tile_overview_geom", "tile_overview", ["geom"], postgresql_using="gist")
        op.create_index("ix_tile_overview_layer", "tile_overview", ["layer", "band"])
    if not inspector.has_table("tile_overview_built"):
        op.create_table(
            "tile_overview_built",
            sa.Column("layer", sa.Text(), primary_key=True),
            sa.Column("band", sa.Integer(), primary_key=True),
            sa.Column("built_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        )


def downgrade() -> None:
    op.drop_table("tile_overview_built")
    op.drop_table("tile_overview")
