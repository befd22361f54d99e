"""Database: the embedded cluster, engines, the schema built from the catalog, migrations."""
