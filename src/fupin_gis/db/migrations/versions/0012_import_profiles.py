"""Import profiles: a confirmed reading of a survey's columns, values, encoding and CRS, reused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("import_profiles"):
        return
    op.create_table(
        "import_profiles",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("layer", sa.Text(), nullable=False),
        sa.Column("signature", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("mapping", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("value_maps", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("defaults", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("encoding", sa.Text()),
        sa.Column("crs", sa.Text()),
        sa.Column("datum", sa.Text()),
        sa.Column("author", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        comment="导入方案：已确认的列对应、取值对应、编码与坐标系",
    )
    op.create_index("ix_import_profiles_layer_signature", "import_profiles", ["layer", "signature"])


def downgrade() -> None:
    op.drop_table("import_profiles")
