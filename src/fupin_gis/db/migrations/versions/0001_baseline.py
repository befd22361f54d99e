"""Baseline: extensions, the batches table and one table per catalog layer.

The baseline materialises the catalog as it stands when a database is first created; a later
change of the catalog for an existing database gets a revision of its own (autogenerate compares
the catalog's metadata with the database), and ``fupin-gis db check`` reports any drift.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from alembic import context, op

from fupin_gis.catalog import load_catalog
from fupin_gis.db.schema import build_metadata
from fupin_gis.settings import Settings

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _metadata():
    settings = context.config.attributes.get("settings") or Settings()
    return build_metadata(load_catalog(settings.catalog_dir))


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    _metadata().create_all(bind)


def downgrade() -> None:
    _metadata().drop_all(op.get_bind())
