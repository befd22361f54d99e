"""Alembic environment: target metadata is built from the layer catalog."""

from alembic import context
from sqlalchemy import create_engine, pool

from fupin_gis.catalog import load_catalog
from fupin_gis.db.schema import build_metadata
from fupin_gis.settings import Settings

config = context.config
settings = config.attributes.get("settings") or Settings()
target_metadata = build_metadata(load_catalog(settings.catalog_dir))


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # PostGIS and pgRouting own tables of their own (spatial_ref_sys…): never touch them.
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
