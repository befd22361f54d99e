"""Batches made by OGC API transactions: their kind (``api-edit``) and the request that made them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database created at 0001 from a newer schema module has them already.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("batches")}
    if "kind" not in have:
        op.add_column(
            "batches",
            sa.Column(
                "kind", sa.Text(), comment="api-edit: an OGC API transaction; NULL: imports, page edits, demo loads"
            ),
        )
    if "request_id" not in have:
        op.add_column(
            "batches", sa.Column("request_id", sa.Text(), comment="the HTTP request that made an api-edit batch")
        )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_batches_api_edits ON batches (layer, username, created_at) "
        "WHERE kind = 'api-edit'"
    )


def downgrade() -> None:
    op.drop_index("ix_batches_api_edits", "batches")
    op.drop_column("batches", "request_id")
    op.drop_column("batches", "kind")
