"""Vector tiles (MVT) of the catalog's layers and of the coverage, cached in the database."""
